#pragma once
// The allocation methods by name, for the CLI (--method) and the GUI's method switch. All tile
// methods return the same TileAllocation value on the same cost model.
//   scalebits       one width per tile, exact greedy ladder (TileAllocator)
//   tile-noreorder  the same ladder fed with the S table of the model without channel reordering;
//                   the caller passes that problem, nothing else differs
//   layer           one width per matrix, the ladder at matrix granularity (LayerAllocator)
//   uniform         the widest single width that fits
//   uniform-mix     two adjacent uniform widths, whole matrices moved up by sensitivity
//   group           one width per row-group (GroupAllocator, its own problem): the quality reference
#include "core/alloc/budget.h"
#include "core/alloc/tile_problem.h"

#include <memory>
#include <string_view>

namespace scalebits {

enum class AllocMethod { ScaleBits, TileNoReorder, Layer, Uniform, UniformMix, Group };

// Throws InputError listing the valid names.
AllocMethod parse_alloc_method(std::string_view name);
const char* alloc_method_name(AllocMethod method);
// Runtime-friendly methods can be run by the tile kernels; group cannot.
bool is_runtime_friendly(AllocMethod method);

class TileAllocator;
class LayerAllocator;

// One tile-granularity method prepared on one problem (the ladder methods build their ladder once),
// answering any budget; the only place that maps a method to its solver. The problem must outlive
// it and the solvers with_pins makes from it; the tile pins are copied at construction (from
// problem.tile_pins). Group is an InputError here: it needs a GroupProblem.
class TileMethodSolver {
public:
    TileMethodSolver(const TileProblem& problem, AllocMethod method);
    ~TileMethodSolver();
    TileMethodSolver(const TileMethodSolver&) = delete;
    TileMethodSolver& operator=(const TileMethodSolver&) = delete;

    // This method under other tile pins (they replace problem.tile_pins) on the same problem, sharing
    // what was precomputed: a tile pin in the explorer costs the pinned tiles, not a new ladder.
    // Throws InputError for a pin outside the tiles or not at a candidate width.
    std::unique_ptr<TileMethodSolver> with_pins(std::vector<TilePin> pins) const;
    const std::vector<TilePin>& tile_pins() const { return pins_; }

    AllocMethod method() const { return method_; }
    // Throws InputError when the budget is below the method's cheapest allocation.
    TileAllocation solve(const Budget& budget) const;
    // The tile ladder of scalebits and tile-noreorder (slider ranges); null for the other methods.
    const TileAllocator* ladder() const { return tiles_.get(); }

private:
    TileMethodSolver(const TileMethodSolver& from, std::vector<TilePin> pins);
    const TileProblem& problem_;
    AllocMethod method_;
    std::vector<TilePin> pins_;
    std::unique_ptr<TileAllocator> tiles_;
    std::unique_ptr<LayerAllocator> layer_;  // layer, and the matrix table of the uniform methods
};

// One-shot solve (prepares, then solves once; keep a TileMethodSolver when solving many budgets).
TileAllocation allocate_tiles(const TileProblem& problem, const Budget& budget, AllocMethod method);

}  // namespace scalebits
