// Private: entry points of the CUDA kernels (called by runtime.cu).
#pragma once

#include "common.cuh"

#include <cublas_v2.h>

namespace scalebits::kernels::cuda {

// y (batch x N, fp32) = W x (x: batch x K fp16), batch 1..8; zeroes y first. sms: multiprocessors.
void gemv(const DeviceMatrix& m, const void* x, int batch, float* y, cudaStream_t stream, int sms);
int gemv_max_batch();

// W (N x K fp16, row-major) from the packed tiles.
void dequantize_to_half(const DeviceMatrix& m, half* w, cudaStream_t stream);

// y (batch x N fp32) = W x with W N x K fp16 row-major, x batch x K fp16: cublasGemmEx, fp32 compute.
void gemm_cublas(cublasHandle_t handle, const half* w, std::size_t N, std::size_t K, const half* x, int batch, float* y);

void check_cublas(cublasStatus_t s, const char* what);

}  // namespace scalebits::kernels::cuda
