#include "core/analysis/matrix_tables.h"

#include <torch/torch.h>

#include "core/quant/tile_costs.h"

namespace scalebits::analysis {

std::vector<double> to_doubles(const torch::Tensor& t) {
    auto c = t.detach().to(torch::kCPU, torch::kDouble).contiguous();
    return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

std::vector<float> to_floats(const torch::Tensor& t) {
    auto c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
    return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

MatrixAnalysis matrix_record(std::string name, int layer, int kind, std::int64_t rows, std::int64_t cols,
                             const quant::TileSpec& spec) {
    MatrixAnalysis m;
    m.name = std::move(name);
    m.layer = layer;
    m.kind = kind;
    m.grid = spec.grid(rows, cols);
    return m;
}

MatrixAnalysis matrix_record(const model::ModelConfig& c, int layer, model::LinearKind kind, const quant::TileSpec& spec) {
    const auto [rows, cols] = model::linear_shape(c, kind);
    return matrix_record(model::linear_weight_name(layer, kind), layer, static_cast<int>(kind), rows, cols, spec);
}

MatrixTables matrix_tables(const torch::Tensor& w, const torch::Tensor& fisher, const quant::TileSpec& spec,
                           const std::vector<int>& widths) {
    torch::NoGradGuard no_grad;
    const quant::TileCostTable t = quant::tile_costs(w.detach(), spec, widths, quant::ErrorWeights::fisher(fisher));
    return {to_doubles(t.costs), to_doubles(quant::tile_sums(fisher, spec)), to_floats(t.group_costs)};
}

}  // namespace scalebits::analysis
