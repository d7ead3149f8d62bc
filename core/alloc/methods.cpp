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

TileMethodSolver::TileMethodSolver(const TileProblem& problem, AllocMethod method)
    : problem_(problem), method_(method), pins_(problem.tile_pins) {
    switch (method) {
    case AllocMethod::ScaleBits:
    case AllocMethod::TileNoReorder: tiles_ = std::make_unique<TileAllocator>(problem); return;
    case AllocMethod::Layer:
    case AllocMethod::Uniform:
    case AllocMethod::UniformMix: layer_ = std::make_unique<LayerAllocator>(problem); return;
    case AllocMethod::Group: break;
    }
    throw InputError("the group method allocates row-groups, not tiles: solve a GroupProblem with GroupAllocator");
}

TileMethodSolver::TileMethodSolver(const TileMethodSolver& from, std::vector<TilePin> pins)
    : problem_(from.problem_), method_(from.method_), pins_(std::move(pins)) {
    if (from.tiles_) tiles_ = std::make_unique<TileAllocator>(from.tiles_->with_pins(problem_, pins_));
    if (from.layer_) layer_ = std::make_unique<LayerAllocator>(from.layer_->with_pins(problem_, pins_));
}

std::unique_ptr<TileMethodSolver> TileMethodSolver::with_pins(std::vector<TilePin> pins) const {
    return std::unique_ptr<TileMethodSolver>(new TileMethodSolver(*this, std::move(pins)));
}

TileMethodSolver::~TileMethodSolver() = default;

TileAllocation TileMethodSolver::solve(const Budget& budget) const {
    TileAllocation a;
    switch (method_) {
    case AllocMethod::ScaleBits:
    case AllocMethod::TileNoReorder: a = tiles_->solve(budget); break;
    case AllocMethod::Layer: a = layer_->solve(budget); break;
    case AllocMethod::Uniform: a = best_uniform(problem_, layer_->matrix_items(), pins_, budget); break;
    case AllocMethod::UniformMix: a = uniform_mix(problem_, layer_->matrix_items(), pins_, budget); break;
    case AllocMethod::Group: break;  // refused by the constructor
    }
    a.method = alloc_method_name(method_);
    return a;
}

TileAllocation allocate_tiles(const TileProblem& problem, const Budget& budget, AllocMethod method) {
    return TileMethodSolver(problem, method).solve(budget);
}

}  // namespace scalebits
