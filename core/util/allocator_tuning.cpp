#include "core/util/allocator_tuning.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <climits>

namespace scalebits::util {

void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
    mallopt(M_MMAP_MAX, 0);               // every block from the heap (mapped files are not malloc's)
    mallopt(M_TRIM_THRESHOLD, INT_MAX);   // and the heap's top is not handed back after each free
#endif
}

}  // namespace scalebits::util
