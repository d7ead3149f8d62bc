#pragma once
// The result of quantizing one N x K matrix with per-tile widths: integer codes, one fp16-valued
// scale and one integer zero point per group. Every quantizer (RTN, GPTQ) returns this, export
// packs it, and dequantize() is the exact function the packed kernels must reproduce:
//     w = scale * (q - zero)      (float32 arithmetic, scale an fp16 value widened to float)
#include <ATen/core/Tensor.h>

#include <cstdint>

#include "core/quant/tile_spec.h"

namespace scalebits::quant {

inline constexpr int kMinBits = 2;
inline constexpr int kMaxBits = 8;
// A tile kept at fp16 (kernels::kDenseBits): the top rung of the vocabulary matrices.
inline constexpr int kKeptBits = 16;

struct QuantizedMatrix {
    std::int64_t rows = 0, cols = 0;
    TileSpec spec;
    at::Tensor codes;   // uint8 [N, K], values in [0, 2^b - 1] with b the width of the tile
    at::Tensor scales;  // float32 [N, G], G = spec.groups_per_row(K); exactly representable in fp16
    at::Tensor zeros;   // uint8 [N, G], values in [0, 2^b - 1]
    at::Tensor widths;  // uint8 [grid_rows, grid_cols], each in 2..8, or kKeptBits
    // float32 [N, K]: the weights rounded to fp16, read in the tiles of width kKeptBits (whose codes,
    // scales and zeros mean nothing); undefined when there are none.
    at::Tensor kept;

    // float32 [N, K] on the codes' device.
    at::Tensor dequantize() const;
    // The same matrix with its tensors on `device` (shared, not copied, where they already are).
    QuantizedMatrix to(const at::Device& device) const;
};

// A width grid with every tile at `bits`.
at::Tensor uniform_widths(const TileSpec& spec, std::int64_t rows, std::int64_t cols, int bits);

// Throws InputError unless `widths` is a uint8/integer tensor shaped like the tile grid with every
// value in 2..8. Returns it as uint8 on `device`.
at::Tensor checked_widths(const at::Tensor& widths, const TileSpec& spec, std::int64_t rows,
                          std::int64_t cols, const at::Device& device);

// Bits of every group: uint8 [N, G], the width of the tile holding row i and group k.
at::Tensor group_widths(const at::Tensor& widths, const TileSpec& spec, std::int64_t rows,
                        std::int64_t cols);

// Per-tile sums of an N x K tensor in double: [num_tiles] in row-major tile order.
at::Tensor tile_sums(const at::Tensor& values, const TileSpec& spec);

}  // namespace scalebits::quant
