#pragma once
// Round-to-nearest, asymmetric, per group (scale + zero point per row per g columns), with a
// clipping search: for every group, the range [lo, hi] (zero always included) is shrunk toward 0 by
// each factor of a small grid (default 1.00, 0.95, ..., 0.60) and the candidate with the smallest
// weighted error sum_j w_ij (W_ij - Q_ij)^2 wins (w = Fisher, or 1). All groups of the matrix are
// searched at once with tensor ops; each group uses the width of its tile. Details of the scale
// rule (fp16 rounding, limits, constant groups) are in group_params.h.
#include <ATen/core/Tensor.h>

#include <vector>

#include "core/quant/error_weights.h"
#include "core/quant/quantized_matrix.h"
#include "core/quant/tile_spec.h"

namespace scalebits::quant {

struct RtnOptions {
    // Shrink factors in (0, 1]; 1.0 (plain min/max) is always tried. {1.0} disables the search.
    std::vector<float> shrink_grid = {1.00f, 0.95f, 0.90f, 0.85f, 0.80f,
                                      0.75f, 0.70f, 0.65f, 0.60f};
    static RtnOptions no_clip() { return RtnOptions{{1.0f}}; }
};

// W: N x K, any floating dtype, any device (computed in float32 there). tile_widths: integer
// [grid_rows, grid_cols] with values 2..8. Throws InputError on a bad shape, a non-finite weight or
// bad error weights.
QuantizedMatrix quantize_rtn(const at::Tensor& w, const TileSpec& spec, const at::Tensor& tile_widths,
                             const ErrorWeights& weights = {}, const RtnOptions& options = {});

// Every tile at `bits`.
QuantizedMatrix quantize_rtn(const at::Tensor& w, const TileSpec& spec, int bits,
                             const ErrorWeights& weights = {}, const RtnOptions& options = {});

namespace detail {
// Checks that W is a finite 2-D floating tensor and returns it as contiguous float32.
at::Tensor checked_weight(const at::Tensor& w, const char* who);
}  // namespace detail

}  // namespace scalebits::quant
