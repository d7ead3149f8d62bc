#include "core/quant/quantized_matrix.h"

#include <torch/torch.h>

#include "core/quant/group_params.h"
#include "core/util/error.h"

namespace scalebits::quant {

QuantizedMatrix QuantizedMatrix::to(const at::Device& device) const {
    QuantizedMatrix out = *this;
    for (at::Tensor* t : {&out.codes, &out.scales, &out.zeros, &out.widths, &out.kept})
        if (t->defined()) *t = t->to(device);
    return out;
}

at::Tensor QuantizedMatrix::dequantize() const {
    const std::int64_t groups = spec.groups_per_row(cols);
    const std::int64_t padded = groups * spec.group;
    namespace F = torch::nn::functional;
    auto q = codes.to(torch::kFloat32);
    if (padded > cols) q = F::pad(q, F::PadFuncOptions({0, padded - cols}));
    auto w = detail::dequantize_codes(q.view({rows, groups, spec.group}),
                                      scales.unsqueeze(-1), zeros.to(torch::kFloat32).unsqueeze(-1));
    w = w.view({rows, padded}).slice(1, 0, cols).contiguous();
    if (kept.defined()) {
        // Tiles kept at fp16 read their weights: the tile grid's widths expanded to elements.
        auto opts = torch::TensorOptions().dtype(torch::kInt64).device(widths.device());
        const auto row_tile = torch::arange(rows, opts).div(spec.tile_rows, "trunc");
        const auto col_tile = torch::arange(cols, opts).div(spec.tile_cols, "trunc");
        const auto mask = (widths.index_select(0, row_tile).index_select(1, col_tile) == kKeptBits).to(w.device());
        w = torch::where(mask, kept.to(w.device()), w);
    }
    return w;
}

at::Tensor uniform_widths(const TileSpec& spec, std::int64_t rows, std::int64_t cols, int bits) {
    if (bits < kMinBits || bits > kMaxBits)
        throw InputError("bit width " + std::to_string(bits) + " is outside 2..8");
    spec.validate_shape(rows, cols);
    return torch::full({spec.grid_rows(rows), spec.grid_cols(cols)}, bits,
                       torch::TensorOptions().dtype(torch::kUInt8));
}

at::Tensor checked_widths(const at::Tensor& widths, const TileSpec& spec, std::int64_t rows,
                          std::int64_t cols, const at::Device& device) {
    spec.validate_shape(rows, cols);
    if (!widths.defined() || widths.dim() != 2 || widths.size(0) != spec.grid_rows(rows) ||
        widths.size(1) != spec.grid_cols(cols))
        throw InputError("tile width map must be " + std::to_string(spec.grid_rows(rows)) + "x" +
                         std::to_string(spec.grid_cols(cols)) + " for a " + std::to_string(rows) +
                         "x" + std::to_string(cols) + " matrix with " + spec.to_string() +
                         " tiles");
    if (widths.is_floating_point() || widths.is_complex())
        throw InputError("tile width map must hold integers");
    auto w = widths.to(torch::kInt64);
    if ((w < kMinBits).any().item<bool>() || (w > kMaxBits).any().item<bool>())
        throw InputError("tile width map has a width outside 2..8");
    return w.to(device, torch::kUInt8).contiguous();
}

at::Tensor group_widths(const at::Tensor& widths, const TileSpec& spec, std::int64_t rows,
                        std::int64_t cols) {
    auto opts = torch::TensorOptions().dtype(torch::kInt64).device(widths.device());
    auto row_tile = torch::arange(rows, opts).div(spec.tile_rows, "trunc");
    auto group_tile = (torch::arange(spec.groups_per_row(cols), opts) * spec.group)
                          .div(spec.tile_cols, "trunc");
    return widths.index_select(0, row_tile).index_select(1, group_tile).contiguous();
}

at::Tensor tile_sums(const at::Tensor& values, const TileSpec& spec) {
    const std::int64_t rows = values.size(0), cols = values.size(1);
    const std::int64_t gr = spec.grid_rows(rows), gc = spec.grid_cols(cols);
    namespace F = torch::nn::functional;
    auto padded = F::pad(values, F::PadFuncOptions(
                                     {0, gc * spec.tile_cols - cols, 0, gr * spec.tile_rows - rows}));
    return padded.view({gr, spec.tile_rows, gc, spec.tile_cols})
        .sum({1, 3}, /*keepdim=*/false, torch::kFloat64)
        .reshape({-1});
}

}  // namespace scalebits::quant
