#include "core/alloc/methods.h"

#include "core/alloc/allocator.h"
#include "core/alloc/uniform.h"
#include "core/util/error.h"

#include <string>

namespace scalebits {

namespace {

constexpr AllocMethod kAll[] = {AllocMethod::ScaleBits, AllocMethod::TileNoReorder, AllocMethod::Layer,
                                AllocMethod::Uniform,   AllocMethod::UniformMix,    AllocMethod::Group};

}  // namespace

const char* alloc_method_name(AllocMethod method) {
    switch (method) {
    case AllocMethod::ScaleBits: return "scalebits";
    case AllocMethod::TileNoReorder: return "tile-noreorder";
    case AllocMethod::Layer: return "layer";
    case AllocMethod::Uniform: return "uniform";
    case AllocMethod::UniformMix: return "uniform-mix";
    case AllocMethod::Group: return "group";
    }
    return "?";
}

AllocMethod parse_alloc_method(std::string_view name) {
    std::string valid;
    for (AllocMethod m : kAll) {
        if (name == alloc_method_name(m)) return m;
        valid += valid.empty() ? "" : "|";
        valid += alloc_method_name(m);
    }
    throw InputError("unknown allocation method '" + std::string(name) + "' (expected " + valid + ")");
}

bool is_runtime_friendly(AllocMethod method) { return method != AllocMethod::Group; }

TileAllocation allocate_tiles(const TileProblem& problem, const Budget& budget, AllocMethod method) {
    switch (method) {
    case AllocMethod::ScaleBits:
    case AllocMethod::TileNoReorder: {
        TileAllocation a = TileAllocator(problem).solve(budget);
        a.method = alloc_method_name(method);
        return a;
    }
    case AllocMethod::Layer: return LayerAllocator(problem).solve(budget);
    case AllocMethod::Uniform: return best_uniform(problem, budget);
    case AllocMethod::UniformMix: return uniform_mix(problem, budget);
    case AllocMethod::Group: break;
    }
    throw InputError("the group method allocates row-groups, not tiles: solve a GroupProblem with GroupAllocator");
}

}  // namespace scalebits
