#pragma once
// From an analysis to the allocator's problem: one MatrixSpec per quantized matrix (with the user's
// pins and width limits) and the S table of the chosen layout. Shared by the CLI, the GUI's slider
// and export, so all three solve exactly the same problem.
#include <map>
#include <string>

#include "core/alloc/group_alloc.h"
#include "core/alloc/tile_problem.h"
#include "core/analysis/analysis.h"

namespace scalebits::analysis {

struct WidthConstraint {
    int min_bits = 0, max_bits = 0, pinned_bits = 0;  // 0 = none
    bool operator==(const WidthConstraint&) const = default;
};

struct ProblemOptions {
    bool reordered = true;  // S table of the reordered layout (scalebits) or the original (tile-noreorder)
    // The budget covers the whole file: the vocabulary matrices (embedding, lm_head) are allocated like
    // the linear layers, with "kept at fp16" (kKeptBits) as their top rung. Otherwise they stay fp16
    // outside the allocation (budgets count the linear layers only). Analyses made before format 4
    // have no tables for them and are always allocated linear-only.
    bool whole_file = true;
    // By matrix name, or by matrix kind suffix ("down_proj"), or by layer prefix ("model.layers.0.").
    std::map<std::string, WidthConstraint> constraints;
    // Single tiles held at one width, by exact matrix name, then tile index (row-major over the grid
    // of the layout allocated: reordered unless `reordered` is off). They override the matrix's
    // constraint; fp16 (16 bits) only on the vocabulary matrices of a whole-file budget.
    std::map<std::string, std::map<std::int64_t, int>> tile_pins;
    bool operator==(const ProblemOptions&) const = default;
};

// Throws InputError naming the matrix for a tile pin on an unknown or unallocated matrix, outside
// its grid, or at a width that is not a candidate.
TileProblem make_tile_problem(const Analysis& analysis, const ProblemOptions& options = {});

// options.tile_pins as tile indices of `problem` (made from `analysis` with options whose other
// fields equal these), ascending; throws as make_tile_problem does for them.
std::vector<TilePin> resolve_tile_pins(const Analysis& analysis, const TileProblem& problem, const ProblemOptions& options);

// Whether a problem made with `options` allocates the vocabulary matrices.
bool allocates_vocab(const Analysis& analysis, const ProblemOptions& options);

// The per-group baseline's problem (always the reordered layout): the "cost.group.<matrix>" tables
// read from the analysis file. Throws InputError naming the file when it has none (an analysis
// made before they were stored: re-run analyze), and for tile pins (it allocates row-groups).
GroupProblem make_group_problem(const Analysis& analysis, const ProblemOptions& options = {});

}  // namespace scalebits::analysis
