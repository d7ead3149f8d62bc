#pragma once
// GPTQ-style error compensation (Frantar et al. 2022) with per-tile widths. Columns are quantized
// left to right (act-order off: the columns are already reordered by sensitivity); the error of
// each column is spread over the columns not yet quantized through the upper Cholesky factor of
// H^-1, with lazy batch updates in blocks of about 128 columns. Each weight uses the width of its
// tile: column j of row i uses tile (i / Tr, j / Tc). A group's scale and zero point are chosen
// when its first column is reached, from the group's current (error-updated) values with RTN's
// clip search, its errors weighed as GptqOptions::compensated_clip says. All N rows are processed
// at once for every column.
#include <ATen/core/Tensor.h>

#include <vector>

#include "core/quant/error_weights.h"
#include "core/quant/quantized_matrix.h"
#include "core/quant/tile_spec.h"
#include "core/util/cancel.h"

namespace scalebits::quant {

struct GptqOptions {
    double percdamp = 0.01;     // damping added to diag(H): percdamp * mean(diag(H))
    std::int64_t block = 128;   // lazy-update block, rounded to a multiple of the group size
    // The clip search weighs the squared error of column j by 1 / [H_F^-1]_jj = U_jj^-2 (U the
    // factor below, F the columns not yet quantized): what an error in column j costs once the
    // later columns have absorbed what they can, the quantity GPTQ's own update minimizes. The
    // caller's weights are then not used: each row's group picks its clip alone, so only their
    // column profile could matter, and for the factored Fisher that profile is c_j = E[x_j^2], the
    // cost when nothing compensates (it is what the search uses with this off). Measured on
    // SmolLM2 (4.63 bits per linear weight, 64 WikiText-2 windows): KL to full precision 0.0562 -> 0.0557.
    bool compensated_clip = true;
    // Clip search applied to every group (see RtnOptions); {1.0} disables it.
    std::vector<float> shrink_grid = {1.00f, 0.95f, 0.90f, 0.85f, 0.80f,
                                      0.75f, 0.70f, 0.65f, 0.60f};
};

// W: N x K. hessian: K x K, sum of x x^T over the layer's calibration inputs (any scale; only its
// shape matters to the result). Dead inputs (H_jj == 0) get H_jj = 1 and their weight column is
// set to 0. If H + damping is not positive definite, the damping is raised tenfold up to 6 times
// before an InputError. `weights` only steers the clip search, and only without compensated_clip.
// `progress` is polled once per block.
QuantizedMatrix quantize_gptq(const at::Tensor& w, const at::Tensor& hessian, const TileSpec& spec,
                              const at::Tensor& tile_widths, const ErrorWeights& weights = {},
                              const GptqOptions& options = {}, const Progress* progress = nullptr);

QuantizedMatrix quantize_gptq(const at::Tensor& w, const at::Tensor& hessian, const TileSpec& spec,
                              int bits, const ErrorWeights& weights = {},
                              const GptqOptions& options = {}, const Progress* progress = nullptr);

// tr((A - B) H (A - B)^T): the output error GPTQ minimizes, computed in double.
double output_error(const at::Tensor& a, const at::Tensor& b, const at::Tensor& hessian);

}  // namespace scalebits::quant
