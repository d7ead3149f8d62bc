#pragma once
// The ScaleBITS allocation (one width per tile, exact greedy ladder) and the per-layer baseline (one
// width per matrix, the same ladder at matrix granularity). Both precompute once and then answer any
// budget with a prefix lookup; solve_into reuses the caller's buffers so the slider allocates nothing.
//
// Single tiles' pins (TilePin) are applied on top of what is precomputed without them: the tile
// ladder is built pin-free and a pinned tile's upgrades are skipped while its pinned width is counted
// instead, which is the ladder of the pinned problem exactly (every other upgrade keeps its place);
// the matrix table recomputes only the rows of matrices that hold pins. So with_pins, the explorer's
// tile inspector, costs the pinned tiles, not a rebuild, and shares the precomputation.
#include "core/alloc/budget.h"
#include "core/alloc/ladder.h"
#include "core/alloc/tile_problem.h"

#include <memory>

namespace scalebits {

class TileAllocator {
public:
    // Builds the ladder (reads problem.S once; the problem need not outlive the allocator), with the
    // problem's tile pins.
    explicit TileAllocator(const TileProblem& problem);
    // The same allocator under other tile pins (they replace problem.tile_pins); `problem` is the one
    // this allocator was built from. Throws InputError for a pin outside the tiles or not a candidate.
    TileAllocator with_pins(const TileProblem& problem, std::vector<TilePin> pins) const;

    const Ladder& ladder() const;  // built without the tile pins
    const std::vector<TilePin>& tile_pins() const { return pins_.pins; }
    std::int64_t quantized_weights() const;
    std::int64_t overhead_bytes() const;
    std::int64_t budget_bits(const Budget& budget) const;
    // Smallest and largest reachable size, as average bits per weight (for slider ranges).
    double min_avg_bits() const;
    double max_avg_bits() const;

    // Throws InputError when the budget is below the cheapest allowed allocation.
    TileAllocation solve(const Budget& budget) const;
    void solve_into(const Budget& budget, TileAllocation& out) const;

private:
    struct Shared;
    // The pinned tiles' upgrades in the ladder and what their pins change at the base.
    struct PinOverlay {
        std::vector<TilePin> pins;
        std::vector<std::size_t> skipped;        // ladder positions of the pinned tiles' upgrades, ascending
        std::vector<std::int64_t> skipped_bits;  // [j]: bits of skipped[0..j)
        std::vector<double> skipped_gain;        // [j]: loss reduction of skipped[0..j)
        std::int64_t base_bits = 0;              // pinned widths' cost minus the pinned tiles' base cost
        double base_loss = 0.0;
    };
    TileAllocator(std::shared_ptr<const Shared> shared, const TileProblem& problem, std::vector<TilePin> pins);
    std::size_t skipped_before(std::size_t prefix) const;
    std::int64_t bits_at(std::size_t prefix) const;
    double loss_at(std::size_t prefix) const;

    std::shared_ptr<const Shared> shared_;
    PinOverlay pins_;
};

class LayerAllocator {
public:
    explicit LayerAllocator(const TileProblem& problem);  // with the problem's tile pins
    // As TileAllocator::with_pins: only the rows of matrices holding pins are recomputed.
    LayerAllocator with_pins(const TileProblem& problem, std::vector<TilePin> pins) const;

    const Ladder& ladder() const { return ladder_; }
    // The matrix-level table under this allocator's pins (what the uniform methods choose from).
    const ItemTable& matrix_items() const { return items_; }
    const std::vector<TilePin>& tile_pins() const { return pins_; }
    TileAllocation solve(const Budget& budget) const;

private:
    struct Shared;
    LayerAllocator(std::shared_ptr<const Shared> shared, const TileProblem& problem, std::vector<TilePin> pins);

    std::shared_ptr<const Shared> shared_;
    std::vector<TilePin> pins_;
    ItemTable items_;
    Ladder ladder_;
};

// Matrix-level table: item m = matrix m, S_m(b) = sum of its tiles' S(b), cost = sum of its tiles'
// costs (headers included), allowed range from the matrix's constraints. A pinned tile adds its
// pinned width's cost and S to every choice of its matrix. Uses problem.tile_pins.
ItemTable matrix_items(const TileProblem& problem);

}  // namespace scalebits
