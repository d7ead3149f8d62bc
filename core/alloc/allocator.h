#pragma once
// The ScaleBITS allocation (one width per tile, exact greedy ladder) and the per-layer baseline (one
// width per matrix, the same ladder at matrix granularity). Both precompute once and then answer any
// budget with a prefix lookup; solve_into reuses the caller's buffers so the slider allocates nothing.
#include "core/alloc/budget.h"
#include "core/alloc/ladder.h"
#include "core/alloc/tile_problem.h"

namespace scalebits {

class TileAllocator {
public:
    // Builds the ladder (reads problem.S once; the problem need not outlive the allocator).
    explicit TileAllocator(const TileProblem& problem);

    const Ladder& ladder() const { return ladder_; }
    std::int64_t quantized_weights() const { return quantized_weights_; }
    std::int64_t overhead_bytes() const { return overhead_bytes_; }
    std::int64_t budget_bits(const Budget& budget) const;
    // Smallest and largest reachable size, as average bits per weight (for slider ranges).
    double min_avg_bits() const;
    double max_avg_bits() const;

    // Throws InputError when the budget is below the cheapest allowed allocation.
    TileAllocation solve(const Budget& budget) const;
    void solve_into(const Budget& budget, TileAllocation& out) const;

private:
    Ladder ladder_;
    std::int64_t quantized_weights_ = 0;
    std::int64_t overhead_bytes_ = 0;
};

class LayerAllocator {
public:
    explicit LayerAllocator(const TileProblem& problem);
    const Ladder& ladder() const { return ladder_; }
    TileAllocation solve(const Budget& budget) const;

private:
    std::vector<TilePin> tile_pins_;
    Ladder ladder_;
    std::vector<std::int64_t> tiles_per_matrix_;
    std::int64_t quantized_weights_ = 0;
    std::int64_t overhead_bytes_ = 0;
};

// Matrix-level table: item m = matrix m, S_m(b) = sum of its tiles' S(b), cost = sum of its tiles'
// costs (headers included), allowed range from the matrix's constraints. A pinned tile adds its
// pinned width's cost and S to every choice of its matrix.
ItemTable matrix_items(const TileProblem& problem);

// The candidate a tile of class `tile` takes when its matrix (of class `matrix`) takes k: k itself,
// unless the tile is held to one candidate its matrix does not share (a tile pin).
inline std::size_t fixed_candidate(const ItemClass& tile, const ItemClass& matrix, std::size_t k) {
    return tile.lo == tile.hi && (tile.lo != matrix.lo || tile.hi != matrix.hi) ? std::size_t(tile.lo) : k;
}

}  // namespace scalebits
