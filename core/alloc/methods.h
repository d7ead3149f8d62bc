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

#include <string_view>

namespace scalebits {

enum class AllocMethod { ScaleBits, TileNoReorder, Layer, Uniform, UniformMix, Group };

// Throws InputError listing the valid names.
AllocMethod parse_alloc_method(std::string_view name);
const char* alloc_method_name(AllocMethod method);
// Runtime-friendly methods can be run by the tile kernels; group cannot.
bool is_runtime_friendly(AllocMethod method);

// One-shot solve for the tile-granularity methods (precomputes, then solves once; keep a
// TileAllocator or LayerAllocator instead when solving many budgets). Group is an InputError here:
// it needs a GroupProblem.
TileAllocation allocate_tiles(const TileProblem& problem, const Budget& budget, AllocMethod method);

}  // namespace scalebits
