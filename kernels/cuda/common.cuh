// Private CUDA helpers: error handling that throws instead of aborting, and the device view of a
// packed matrix shared by the GEMV and dequantize kernels.
#pragma once

#include "../cpu/format.h"
#include "scalebits/kernels.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace scalebits::kernels::cuda {

// Throws std::runtime_error naming the call and the CUDA error; never aborts (a GUI must survive).
inline void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}

struct DeviceMatrix {
    std::size_t rows, cols, tile_rows, tile_cols, group, tiles_c;
    const std::uint8_t* widths;
    const std::uint64_t* offsets;
    const std::uint8_t* data;
};

__device__ __forceinline__ std::size_t tile_extent(std::size_t total, std::size_t tile, std::size_t index) {
    const std::size_t start = index * tile;
    return total - start < tile ? total - start : tile;
}

// fp16 scale of (group gi, row) and its b-bit zero point.
__device__ __forceinline__ half tile_scale(const std::uint8_t* scales, std::size_t gi, std::size_t r, std::size_t row) {
    return reinterpret_cast<const half*>(scales)[gi * r + row];
}
__device__ __forceinline__ unsigned tile_zero(const std::uint8_t* zeros, std::size_t gi, std::size_t r, std::size_t row, int b) {
    return fmt::read_bits(zeros, (gi * r + row) * static_cast<std::size_t>(b), b);
}

// Two codes (columns 8S + 2w and 8S + 2w + 1 of a chunk) in the two 16-bit halves of a word, from
// the chunk's B vectors. Constant S and w after unrolling: shifts and masks fold into LOP3s.
template <int B, int S>
__device__ __forceinline__ std::uint32_t code_pair(const uint4 (&v)[B], int w) {
    constexpr fmt::WidthLayout L = fmt::kWidthTable[B];
    std::uint32_t q = 0;
#pragma unroll
    for (int i = 0; i < L.part_count; ++i) {
        const int p = L.parts[i].bits, o = L.parts[i].shift;
        const int per_lane = 16 / p;
        const int vi = L.parts[i].first_vector + S / per_lane, bit = p * (S % per_lane);
        const uint4 vec = v[vi];
        const std::uint32_t word = w == 0 ? vec.x : w == 1 ? vec.y : w == 2 ? vec.z : vec.w;
        const std::uint32_t mask = ((1u << p) - 1u) << o;
        const std::uint32_t moved = bit >= o ? word >> (bit - o) : word << (o - bit);
        q |= moved & (mask | (mask << 16));
    }
    return q;
}

// f(std::integral_constant<int, S>) for S = 0..15 in order, fully unrolled (C++17).
template <class F, int... S>
__device__ __forceinline__ void unroll_seq(F& f, std::integer_sequence<int, S...>) {
    (f(std::integral_constant<int, S>{}), ...);
}
template <class F>
__device__ __forceinline__ void unroll16(F& f) {
    unroll_seq(f, std::make_integer_sequence<int, 16>{});
}

}  // namespace scalebits::kernels::cuda
