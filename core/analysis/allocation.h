#pragma once
// From an analysis, a method and a budget to an allocation, for every front end: the CLI's allocate,
// sweep and export solve once (allocate), the explorer's slider and curves solve many budgets on one
// AllocationEngine. Both go through the engine, so which layout and table a method uses is decided
// here only, and the allocation on screen is the one evaluated and exported.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/alloc/budget.h"
#include "core/alloc/methods.h"
#include "core/analysis/analysis.h"
#include "core/analysis/fake_quant.h"
#include "core/analysis/problem.h"

namespace scalebits::analysis {

struct Allocation {
    AllocMethod method = AllocMethod::ScaleBits;
    WidthGranularity granularity = WidthGranularity::Tile;
    bool reordered = true;             // which layout the widths belong to
    bool whole_file = false;           // the widths cover the vocabulary matrices too (after the linear layers)
    std::vector<std::uint8_t> widths;  // per tile or per row-group, analysis order
    std::int64_t budget_bits = 0;
    std::int64_t quantized_bytes = 0;
    std::int64_t total_bytes = 0;
    double avg_bits = 0.0;
    double predicted_loss = 0.0;
    // Weights per width (index = bits) for every matrix, analysis order.
    std::vector<std::array<std::int64_t, kWidthSlots>> weights_per_width;
    double solve_us = 0.0;  // the solve alone (problem construction excluded)
};

// The layout a method is solved and quantized in: everything but tile-noreorder is reordered.
bool method_uses_reordered_layout(AllocMethod method);

// The tile-granularity methods (all but group), in the order the explorer offers them.
const std::vector<AllocMethod>& tile_methods();

// The problems and precomputed solvers of one analysis under one set of options: answers any
// (method, budget) of the prepared methods. Immutable once built; solve may run on several threads
// at once (the explorer's slider and its rate-quality worker).
class AllocationEngine {
public:
    // Prepares `methods` (tile methods only; group is solved by allocate()). Throws InputError for
    // constraints the analysis cannot meet.
    explicit AllocationEngine(const Analysis& analysis, const ProblemOptions& options = {},
                              const std::vector<AllocMethod>& methods = tile_methods());
    ~AllocationEngine();
    AllocationEngine(const AllocationEngine&) = delete;
    AllocationEngine& operator=(const AllocationEngine&) = delete;

    // This engine under other single-tile pins: `options` equal those it was built with but for
    // tile_pins. It shares the problems and what the solvers precomputed, so it costs the pinned
    // tiles, not a rebuild (the explorer's tile inspector answers within a frame), and solves exactly
    // as an engine built with those options. Throws InputError for pins the problem cannot take and
    // std::logic_error for other changed options.
    std::unique_ptr<AllocationEngine> with_tile_pins(const Analysis& analysis, const ProblemOptions& options) const;

    // The method's tile widths (TileProblem order of its layout) with sizes and predicted loss.
    // Throws InputError for an infeasible budget or a method that was not prepared.
    TileAllocation solve_tiles(AllocMethod method, const Budget& budget) const;
    // The same solve as the Allocation that evaluation and export take.
    Allocation solve(AllocMethod method, const Budget& budget) const;
    Allocation to_allocation(AllocMethod method, TileAllocation tiles) const;

    // The problem a method is solved on (its layout's S table), without the single tiles' pins:
    // tile_pins gives those, as tile indices of that problem.
    const TileProblem& problem(AllocMethod method) const;
    const std::vector<TilePin>& tile_pins(AllocMethod method) const;
    // Reachable average width range of the ladder method of that layout (slider ranges).
    double min_avg_bits(AllocMethod method) const;
    double max_avg_bits(AllocMethod method) const;
    bool whole_file() const { return whole_file_; }

private:
    AllocationEngine() = default;
    const TileMethodSolver& solver(AllocMethod method) const;
    const TileMethodSolver& ladder_of(AllocMethod method) const;
    // The two layouts' problems (built only when a prepared method uses them; shared with the
    // engines made by with_tile_pins, the solvers refer to them) and one solver per prepared method.
    std::shared_ptr<const TileProblem> original_, reordered_;
    std::vector<std::unique_ptr<TileMethodSolver>> solvers_;
    ProblemOptions options_;  // as built, for with_tile_pins to check
    bool whole_file_ = false;
};

// Throws InputError for an infeasible budget or constraints (and for group when the analysis file
// has no per-group tables).
Allocation allocate(const Analysis& analysis, AllocMethod method, const Budget& budget,
                    const ProblemOptions& options = {});

}  // namespace scalebits::analysis
