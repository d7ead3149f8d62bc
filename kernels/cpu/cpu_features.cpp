#include "cpu_features.h"

#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace scalebits::kernels::cpu {

const std::string& cpu_path_cap() {
    static const std::string cap = [] {
        const char* e = std::getenv("SCALEBITS_CPU_PATH");
        return e ? std::string(e) : std::string();
    }();
    return cap;
}

bool cpu_has_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
    static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return ok;
#else
    return false;
#endif
}

// From CPUID leaf 1 directly: clang before 15 does not know "f16c" as a __builtin_cpu_supports
// feature (Debian 12 ships clang 14).
bool cpu_has_f16c() {
#if defined(__x86_64__) || defined(__i386__)
    static const bool ok = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_F16C) != 0;
    }();
    return ok;
#else
    return false;
#endif
}

bool cpu_has_avx512_vnni_set() {
#if defined(__x86_64__) || defined(__i386__)
    static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
    return ok;
#else
    return false;
#endif
}

bool cpu_has_avx512_vbmi() {
#if defined(__x86_64__) || defined(__i386__)
    static const bool ok = __builtin_cpu_supports("avx512vbmi");
    return ok;
#else
    return false;
#endif
}

}  // namespace scalebits::kernels::cpu
