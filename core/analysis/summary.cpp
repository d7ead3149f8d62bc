#include "core/analysis/summary.h"

#include <algorithm>
#include <numeric>

#include "core/alloc/cost_model.h"
#include "core/util/error.h"

namespace scalebits::analysis {

AllocationSummarizer::AllocationSummarizer(const TileProblem& problem) : widths_(problem.widths) {
    problem.validate();
    width_index_.fill(-1);
    for (std::size_t k = 0; k < widths_.size(); ++k) width_index_[static_cast<std::size_t>(widths_[k])] = int(k);
    const std::size_t W = widths_.size();
    const auto n = static_cast<std::size_t>(problem.tile_count());
    weights_.reserve(n);
    bytes_.reserve(n * W);
    offsets_.push_back(0);
    for (const auto& m : problem.matrices) {
        for (std::int64_t t = 0; t < m.tile_count(); ++t) {
            const auto h = m.tile_height(t), w = m.tile_width(t);
            weights_.push_back(h * w);
            for (int b : widths_) bytes_.push_back(tile_bytes_with_header(h, w, m.group(), b));
        }
        offsets_.push_back(offsets_.back() + m.tile_count());
    }
    S_ = problem.S;
}

AllocationSummary AllocationSummarizer::summarize(const TileAllocation& allocation) const {
    if (allocation.widths.size() != weights_.size())
        throw InputError("allocation has " + std::to_string(allocation.widths.size()) + " tiles, the problem " +
                         std::to_string(weights_.size()));
    const std::size_t W = widths_.size();
    AllocationSummary out;
    out.matrices.resize(offsets_.size() - 1);
    for (std::size_t m = 0; m + 1 < offsets_.size(); ++m) {
        std::int64_t bytes = 0, weights = 0;
        double loss = 0.0;
        for (auto t = static_cast<std::size_t>(offsets_[m]); t < static_cast<std::size_t>(offsets_[m + 1]); ++t) {
            const int b = allocation.widths[t];
            const int k = b < kWidthSlots ? width_index_[static_cast<std::size_t>(b)] : -1;
            if (k < 0) throw InputError("allocation width " + std::to_string(b) + " is not a candidate");
            bytes += bytes_[t * W + static_cast<std::size_t>(k)];
            loss += S_[t * W + static_cast<std::size_t>(k)];
            weights += weights_[t];
            out.weights_per_width[static_cast<std::size_t>(b)] += weights_[t];
        }
        out.matrices[m] = {weights > 0 ? double(bytes) * 8.0 / double(weights) : 0.0, bytes, loss};
    }
    const std::int64_t all = std::accumulate(out.weights_per_width.begin(), out.weights_per_width.end(), std::int64_t{0});
    for (std::size_t b = 0; b < out.weight_share.size(); ++b)
        out.weight_share[b] = all > 0 ? double(out.weights_per_width[b]) / double(all) : 0.0;
    return out;
}

std::vector<double> sensitivity_shares(const Analysis& analysis) {
    std::vector<double> shares;
    shares.reserve(analysis.matrices.size());
    double total = 0.0;
    for (const auto& m : analysis.matrices) total += m.fisher_total;
    for (const auto& m : analysis.matrices) shares.push_back(total > 0.0 ? m.fisher_total / total : 0.0);
    return shares;
}

TileInfo tile_info(const Analysis& analysis, const MatrixAnalysis& matrix, std::int64_t grid_row,
                   std::int64_t grid_col, bool reordered) {
    if (grid_row < 0 || grid_col < 0 || grid_row >= matrix.grid_rows() || grid_col >= matrix.grid_cols())
        throw InputError(matrix.name + ": tile (" + std::to_string(grid_row) + ", " + std::to_string(grid_col) +
                         ") is outside the " + std::to_string(matrix.grid_rows()) + " x " +
                         std::to_string(matrix.grid_cols()) + " grid");
    TileInfo info;
    const kernels::TileGrid& grid = matrix.grid;
    info.row_begin = grid_row * matrix.tile_rows();
    info.row_end = info.row_begin + static_cast<std::int64_t>(grid.tile_height(static_cast<std::size_t>(grid_row)));
    info.col_begin = grid_col * matrix.tile_cols();
    info.col_end = info.col_begin + static_cast<std::int64_t>(grid.tile_width(static_cast<std::size_t>(grid_col)));
    const auto t = static_cast<std::size_t>(grid_row * matrix.grid_cols() + grid_col);
    const auto& fisher = reordered ? matrix.fisher_reordered : matrix.fisher_original;
    const auto& cost = reordered ? matrix.cost_reordered : matrix.cost_original;
    const std::size_t W = analysis.widths.size();
    if (t < fisher.size()) info.fisher = fisher[t];
    if ((t + 1) * W <= cost.size())
        info.S.assign(cost.begin() + static_cast<std::ptrdiff_t>(t * W), cost.begin() + static_cast<std::ptrdiff_t>((t + 1) * W));
    return info;
}

}  // namespace scalebits::analysis
