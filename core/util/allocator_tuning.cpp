#include "core/util/allocator_tuning.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <climits>
#include <cstdlib>
#include <string>

namespace scalebits::util {

void keep_freed_memory_for_reuse() {
    // SCALEBITS_MALLOC=default leaves the C library as it is (to measure what the tuning costs).
    if (const char* e = std::getenv("SCALEBITS_MALLOC"); e && std::string(e) == "default") return;
#if defined(__GLIBC__)
    mallopt(M_MMAP_MAX, 0);               // every block from the heap (mapped files are not malloc's)
    mallopt(M_TRIM_THRESHOLD, INT_MAX);   // and the heap's top is not handed back after each free
#endif
}

}  // namespace scalebits::util
