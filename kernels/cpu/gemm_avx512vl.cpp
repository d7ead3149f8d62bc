// The chunk kernel of gemm_avx2.cpp built a second time with AVX-512VL + VNNI (256-bit registers):
// vpternlogd merges a code part in one instruction instead of and + or, and vpdpwssd replaces
// vpmaddwd + vpaddd. Compiled with -mavx512f -mavx512vl -mavx512bw -mavx512vnni only for this file;
// gemm_cpu.cpp picks it when __builtin_cpu_supports reports those features.
#define SCALEBITS_AVX512VL_VARIANT 1
#include "gemm_avx2.cpp"
