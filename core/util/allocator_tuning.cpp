#include "core/util/allocator_tuning.h"

// Before the test for glibc: a C library header defines __GLIBC__.
#include <climits>
#include <cstdlib>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace scalebits::util {

void keep_freed_memory_for_reuse() {
    // SCALEBITS_MALLOC=default leaves the C library as it is, =heap serves every block from the heap
    // (to measure what each choice costs).
    const char* e = std::getenv("SCALEBITS_MALLOC");
    const std::string mode = e ? e : "";
    if (mode == "default") return;
#if defined(__GLIBC__)
    if (mode == "heap") {
        mallopt(M_MMAP_MAX, 0);
    } else {
        // Blocks up to glibc's largest threshold (32 MiB) from the heap, larger ones mapped and
        // unmapped: a fixed threshold, not glibc's sliding one that climbs after the first free.
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
    }
    mallopt(M_TRIM_THRESHOLD, INT_MAX);  // the heap's top is not handed back after each free
#endif
}

}  // namespace scalebits::util
