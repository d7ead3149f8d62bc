// Test matrices for the scalebits-kernels tool: random codes/scales/zeros packed with pack_matrix,
// plus the per-output error bounds the checks use.
#pragma once

#include "scalebits/kernels.h"

#include <cstdint>
#include <string>
#include <vector>

namespace scalebits::kernels::tool {

// Width specs: 2..8 uniform; kMixedAll: random 2..8 per tile; kMixed3: random 2/3/4 per tile
// averaging ~3 bits (the "mixed" of the benchmarks).
inline constexpr int kMixedAll = -1;
inline constexpr int kMixed3 = -2;
// Random 2..8 per tile with one tile in four kept at fp16 (kDenseBits): a vocabulary matrix.
inline constexpr int kMixedDense = -3;
// Random 7 or 8 per tile: the widest tiles of the AVX2 byte kernel beside the int16 kernel's, in
// one call.
inline constexpr int kMixed78 = -4;
std::string width_name(int spec);

struct Case {
    TileGrid grid;
    std::vector<std::uint8_t> widths, codes, zeros;
    std::vector<float> scales;
    std::vector<float> dense;  // N*K weights, what the tiles kept at fp16 hold (rounded to fp16)
    PackedMatrix packed;
    bool dense_tile(std::size_t n, std::size_t k) const {
        return widths[(n / grid.tile_rows) * grid.tiles_c() + k / grid.tile_cols] == kDenseBits;
    }
};

Case make_case(const TileGrid& grid, int width_spec, std::uint64_t seed);
std::vector<float> random_activations(std::size_t n, std::uint64_t seed);

// The numbers at the edges of the format, for the CPU paths: groups whose scale is the largest
// fp16 value (65504, what a saturated outlier group gets), the smallest normal and subnormal fp16
// scales, negative ones, and all-zero groups (every code at the zero point).
Case make_edge_case(const TileGrid& grid, int width_spec, std::uint64_t seed);
// Every code at the top of its tile's width (2^b - 1): with activations of one sign and equal
// magnitude the integer sums reach the bounds the kernels' exactness rests on (int16 pair sums of the
// byte kernels, int32 sums).
Case make_max_code_case(const TileGrid& grid, int width_spec, std::uint64_t seed);

// Activations whose 128-column blocks (batch item by batch item) cycle through all zeros,
// subnormal floats, normal floats too small to invert (1e-36), just above the kernels' flush
// threshold (1e-30), ordinary values, very large values (1e25) and one large value among tiny ones.
std::vector<float> edge_activations(std::size_t batch, std::size_t K, std::uint64_t seed);

// Per output n and batch item b: bound = sum_k |s| * (q + z) * |x| (the magnitude the
// accumulations run through; the CPU kernel sums s*q*x and s*z*x separately) and
// absw = sum_k |s (q - z) x| (the magnitude of the exact terms).
// qzmax = sum_k |s| (q + z) * (largest |x| of the 128-column chunk holding k, or |x_k| in tail
// columns): the scale of the CPU path's per-chunk activation rounding.
// sqz = sum_k |s| (q + z): what chunks flushed to zero (largest |x| below 2^-64) can lose, times 2^-64.
struct Bounds {
    std::vector<double> qz, absw, qzmax, sqz;
};
Bounds error_bounds(const Case& c, const float* x, int batch);

// Tolerances derived from the arithmetic: fp32 (u = 2^-24) for the CPU, fp16 products and
// half2 partial sums (u = 2^-11) for CUDA.
double cpu_tolerance(double qz_bound, double qzmax_bound, double sqz_bound, std::size_t K);
double cuda_tolerance(double absw_bound, double qz_bound, std::size_t K);

std::uint8_t mixed_width(std::uint64_t& state, int spec);
std::uint64_t next_random(std::uint64_t& state);

}  // namespace scalebits::kernels::tool
