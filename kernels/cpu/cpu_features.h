// What the CPU running us can do, read once, in one place for the kernels and the baselines.
// The policy (which path a call takes, SCALEBITS_CPU_PATH caps) stays with the callers.
#pragma once

#include <string>

namespace scalebits::kernels::cpu {

// SCALEBITS_CPU_PATH=generic|avx2|avx2-bytes|avx512|avx512vnni caps the path (to test narrower kernels on a
// wider CPU); empty when unset.
const std::string& cpu_path_cap();

bool cpu_has_avx2_fma();
bool cpu_has_f16c();
// AVX-512 F, VL, BW and VNNI together: what gemm_avx512vl.cpp and gemm_vnni.cpp are built for.
bool cpu_has_avx512_vnni_set();
// AVX-512 VBMI (vpermb, vpmultishiftqb), which tail_vbmi.cpp is built for on top of that set.
bool cpu_has_avx512_vbmi();

}  // namespace scalebits::kernels::cpu
