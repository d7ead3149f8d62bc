#include "core/quant/tile_costs.h"

#include <torch/torch.h>

#include "core/quant/quantized_matrix.h"
#include "core/util/error.h"

namespace scalebits::quant {

TileCostTable tile_costs_reference(const at::Tensor& w, const TileSpec& spec, const std::vector<int>& widths,
                         const ErrorWeights& weights, const RtnOptions& options) {
    if (widths.empty()) throw InputError("tile costs: no candidate widths");
    for (int b : widths)
        if (b < kMinBits || b > kMaxBits)
            throw InputError("tile costs: width " + std::to_string(b) + " is outside 2..8");
    const auto x = detail::checked_weight(w, "tile costs");

    TileCostTable table;
    table.rows = x.size(0);
    table.cols = x.size(1);
    table.spec = spec;
    table.widths = widths;
    // Group sums first (a 1 x g tile per group), then tiles as sums of their groups' blocks.
    const TileSpec per_group{1, spec.group, spec.group};
    const TileSpec groups_in_tile{spec.tile_rows, spec.tile_cols / spec.group, 1};
    const std::int64_t groups_per_row = spec.groups_per_row(table.cols);
    std::vector<at::Tensor> tile_columns, group_columns;
    for (int b : widths) {
        auto q = quantize_rtn(x, spec, b, weights, options).dequantize();
        auto e2 = (x - q).square_();
        auto g = tile_sums(weights.apply(e2), per_group).mul_(0.5);
        tile_columns.push_back(tile_sums(g.view({table.rows, groups_per_row}), groups_in_tile));
        group_columns.push_back(std::move(g));
    }
    table.costs = torch::stack(tile_columns, 1).contiguous();
    table.group_costs = torch::stack(group_columns, 1).contiguous();
    table.elements = tile_sums(torch::ones_like(x), spec).to(torch::kInt64);
    return table;
}

}  // namespace scalebits::quant
