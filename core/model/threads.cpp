#include "core/model/threads.h"

#include <ATen/Parallel.h>

namespace scalebits::model {

int configure_cpu_threads(int requested) {
    at::set_num_threads(requested > 0 ? requested : 1);
    return at::get_num_threads();
}

}  // namespace scalebits::model
