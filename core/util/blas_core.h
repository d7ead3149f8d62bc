#pragma once
// OpenBLAS chooses its matrix kernels once, when it loads, from the CPU's model number. The build
// Debian 12 ships (0.3.21) does not know CPUs released after it (Emerald Rapids, family 6 model
// 207, for one) and falls back to its SSE3 "Prescott" kernels: every LibTorch matrix product of an
// analysis, a sweep or the dense reference then runs several times slower than the CPU allows
// (measured in the closing note of this change: bench-matmul 512x576x1536). OpenBLAS takes a
// named core from OPENBLAS_CORETYPE, but only at load time, so the choice is made by running the
// program again with the variable set. Called first thing in main(), before any thread exists.
#include <optional>
#include <string>

namespace scalebits::util {

// The OpenBLAS core this process runs ("SkylakeX", "Prescott", ...), or "" when the linked BLAS
// is not OpenBLAS.
std::string blas_core_name();

// The core to ask for: "SkylakeX" (AVX-512F/BW/DQ/VL/CD) or "Haswell" (AVX2 + FMA) when OpenBLAS
// fell back to Prescott on a CPU that has those instructions and OPENBLAS_CORETYPE is unset;
// nothing otherwise (a user's own setting is never overridden).
std::optional<std::string> blas_core_to_request();

// When blas_core_to_request() names a core, sets OPENBLAS_CORETYPE and replaces this process by a
// fresh run of the same program with the same arguments; returns only when there is nothing to do
// or the relaunch failed (the program then goes on with the slow kernels).
void relaunch_with_known_blas_core(char** argv);

}  // namespace scalebits::util
