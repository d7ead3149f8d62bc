#pragma once
// What the explorer shows about an allocation, computed in core so the GUI only lays numbers out:
// per-matrix average width and bytes, the weights at each width (the histogram), each matrix's share
// of the model's sensitivity, and everything a heatmap tooltip says about one tile.
#include <array>
#include <cstdint>
#include <vector>

#include "core/alloc/tile_problem.h"
#include "core/analysis/analysis.h"

namespace scalebits::analysis {

struct MatrixSummary {
    double avg_bits = 0.0;          // bytes * 8 / weights (scales, zeros and tile headers included)
    std::int64_t bytes = 0;         // packed tiles + headers
    double predicted_loss = 0.0;    // sum of S over the matrix's chosen widths
};

struct AllocationSummary {
    std::vector<MatrixSummary> matrices;            // TileProblem order
    std::array<std::int64_t, kWidthSlots> weights_per_width{};  // index = bits (16: kept at fp16)
    std::array<double, kWidthSlots> weight_share{};             // weights_per_width / all quantized weights
};

// Precomputes per-tile bytes and weights for every candidate once, so summarizing an allocation of
// 500,000 tiles is one pass of table lookups (the slider calls it on every move).
class AllocationSummarizer {
public:
    explicit AllocationSummarizer(const TileProblem& problem);
    // Throws InputError when the allocation does not match the problem (tile count, width).
    AllocationSummary summarize(const TileAllocation& allocation) const;
    // Index of each matrix's first tile in the allocation's widths.
    const std::vector<std::int64_t>& tile_offsets() const { return offsets_; }

private:
    std::vector<int> widths_;
    std::array<int, kWidthSlots> width_index_{};
    std::vector<std::int64_t> offsets_;          // matrices + 1 entries
    std::vector<std::int64_t> weights_;          // per tile
    std::vector<std::int64_t> bytes_;            // per tile and candidate, [t * W + k]
    std::vector<double> S_;                      // per tile and candidate
};

// Each matrix's share of the model's total Fisher mass (sums to 1 unless all are zero).
std::vector<double> sensitivity_shares(const Analysis& analysis);

// One tile of a matrix's grid in the original or reordered layout: the weight rows and columns it
// covers (half-open) and its Fisher mass and S at every candidate width.
struct TileInfo {
    std::int64_t row_begin = 0, row_end = 0, col_begin = 0, col_end = 0;
    double fisher = 0.0;
    std::vector<double> S;  // analysis.widths order
};
// Throws InputError for a cell outside the grid.
TileInfo tile_info(const Analysis& analysis, const MatrixAnalysis& matrix, std::int64_t grid_row,
                   std::int64_t grid_col, bool reordered);

}  // namespace scalebits::analysis
