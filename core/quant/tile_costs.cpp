#include "core/quant/tile_costs.h"

#include <torch/torch.h>

#include "core/quant/quantized_matrix.h"
#include "core/util/error.h"

namespace scalebits::quant {

TileCostTable tile_costs(const at::Tensor& w, const TileSpec& spec, const std::vector<int>& widths,
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
    std::vector<at::Tensor> columns;
    for (int b : widths) {
        auto q = quantize_rtn(x, spec, b, weights, options).dequantize();
        auto e2 = (x - q).square_();
        columns.push_back(tile_sums(weights.apply(e2), spec).mul_(0.5));
    }
    table.costs = torch::stack(columns, 1).contiguous();
    table.elements = tile_sums(torch::ones_like(x), spec).to(torch::kInt64);
    return table;
}

}  // namespace scalebits::quant
