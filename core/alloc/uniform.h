#pragma once
// Uniform baselines, on the same cost model as the ladder methods.
// - uniform: one width for every tile of every free matrix; pinned matrices keep their width and a
//   matrix whose min/max excludes the width gets the nearest allowed candidate.
// - uniform mix: the best mix of two adjacent uniform widths. The lower width is the widest uniform
//   allocation that fits; then whole matrices move up to the next candidate width, chosen greedily by
//   sensitivity (largest loss reduction per extra bit first, ties by matrix order), skipping a matrix
//   whose move no longer fits and trying the next one, until none fits.
#include "core/alloc/budget.h"
#include "core/alloc/tile_problem.h"

namespace scalebits {

// Throws InputError when `bits` is not a candidate width.
TileAllocation uniform_allocation(const TileProblem& problem, int bits);

// The widest uniform allocation within the budget; InputError when even the narrowest does not fit.
TileAllocation best_uniform(const TileProblem& problem, const Budget& budget);

TileAllocation uniform_mix(const TileProblem& problem, const Budget& budget);

// The same from a matrix-level table already made (LayerAllocator::matrix_items) under `pins`, which
// replace problem.tile_pins: what a prepared solver calls on every budget.
TileAllocation best_uniform(const TileProblem& problem, const ItemTable& matrix_items, const std::vector<TilePin>& pins,
                            const Budget& budget);
TileAllocation uniform_mix(const TileProblem& problem, const ItemTable& matrix_items, const std::vector<TilePin>& pins,
                           const Budget& budget);

}  // namespace scalebits
