// Private: the pieces of the optimized CPU GEMM shared by the driver (gemm_cpu.cpp) and the
// per-ISA tile kernels (gemm_avx2.cpp is compiled with -mavx2 -mfma only).
#pragma once

#include "format.h"

#include <cstddef>
#include <cstdint>

namespace scalebits::kernels::cpu {

// Activations are permuted inside every full 128-column chunk of a tile into the order of the
// 16-bit code lanes the AVX2 kernel extracts per step s (0..7): [slot s | slot s+8], i.e. columns
// 8s..8s+7 then 8s+64..8s+71.
inline int permuted_position(int cc) {
    const int slot = cc / 8, lane = cc % 8;
    return 16 * (slot % 8) + 8 * (slot / 8) + lane;
}

// One tile's work for the chunk kernels: add scale_g * sum_{k in chunk part of g} q_k x_k into acc.
struct TileArgs {
    const std::uint8_t* tile = nullptr;
    fmt::TileGeom geom{};
    const float* x = nullptr;    // permuted activations at the tile's first column, batch item 0
    std::size_t x_stride = 0;    // elements between batch items (x and xq)
    // The same activations rounded to int16 per 128-column chunk: x ~= xq * xscale[chunk], with
    // xscale = max|x| / 32767 (relative error <= 2^-16 of the chunk's largest |x|). The AVX2 kernel
    // multiplies 16-bit codes by them with vpmaddwd: exact integer sums, no per-weight conversion.
    const std::int16_t* xq = nullptr;
    const float* xscale = nullptr;  // xscale[b * xscale_stride + chunk], chunk = column / 128
    std::size_t xscale_stride = 0;
    std::size_t col0 = 0;           // first column of the tile (to index xscale)
    int batch = 1;
    // Accumulators, 8 floats per (row, batch item): acc[(row * batch + b) * 8 + lane]. The AVX2
    // kernel adds whole vectors (scale * partial sums) so it never reduces horizontally inside the
    // tile row; scalar code adds to lane 0. The driver sums the 8 lanes once per output.
    float* acc = nullptr;
    // Zero-point term sum_g s_g z_g sum_{k in g} x_k, per batch item and row: zacc[b * r + row]
    // (subtracted at the end). xsum[b * xsum_stride + gi]: activation sums of the tile's groups.
    float* zacc = nullptr;
    const float* xsum = nullptr;
    std::size_t xsum_stride = 0;
};
inline constexpr int kAccLanes = 8;

// Portable chunk kernel and zero-point term (any machine).
void chunks_generic(const TileArgs& a);
void zero_terms_generic(const TileArgs& a);
void zero_terms_avx2(const TileArgs& a);
// AVX2+FMA chunk kernel; needs geom.g % 8 == 0 (checked by the caller).
void chunks_avx2(const TileArgs& a);
// The same kernel with AVX-512VL + VNNI instructions (vpternlogd, vpdpwssd) on 256-bit registers.
void chunks_avx512vl(const TileArgs& a);

// Dense fp32 rows [n0, n1) of y = W x (AVX2); and the sum of a float buffer (bandwidth probe).
void f32_rows_avx2(const float* W, std::size_t K, const float* x, int batch, std::size_t N, std::size_t n0,
                   std::size_t n1, float* y);
float sum_avx2(const float* p, std::size_t n);

}  // namespace scalebits::kernels::cpu
