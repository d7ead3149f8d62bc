#include "core/util/blas_core.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>

namespace scalebits::util {

std::string blas_core_name() {
    // Looked up at run time: the program links OpenBLAS only through LibTorch, and another BLAS
    // (MKL, the reference one) simply has no such symbol.
    using CoreName = char* (*)();
    auto fn = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
    const char* name = fn ? fn() : nullptr;
    return name ? std::string(name) : std::string();
}

std::optional<std::string> blas_core_to_request() {
    if (std::getenv("OPENBLAS_CORETYPE")) return std::nullopt;
    if (blas_core_name() != "Prescott") return std::nullopt;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd"))
        return std::string("SkylakeX");
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return std::string("Haswell");
#endif
    return std::nullopt;
}

void relaunch_with_known_blas_core(char** argv) {
    const auto core = blas_core_to_request();
    if (!core) return;
    // Set before exec, so the new process (and any it starts) keeps it and never relaunches again.
    if (setenv("OPENBLAS_CORETYPE", core->c_str(), 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE");  // exec failed: go on as before, in this process
}

}  // namespace scalebits::util
