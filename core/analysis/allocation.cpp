#include "core/analysis/allocation.h"

#include <chrono>

#include <algorithm>
#include <stdexcept>

#include "core/alloc/allocator.h"
#include "core/alloc/group_alloc.h"
#include "core/util/error.h"

namespace scalebits::analysis {

namespace {
double elapsed_us(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

// Weights per width per matrix for per-group widths (groups row by row, the last one of a row
// shorter when g does not divide K).
std::vector<std::array<std::int64_t, kWidthSlots>> group_histogram(const std::vector<MatrixSpec>& matrices,
                                                                   const std::vector<std::uint8_t>& widths) {
    std::vector<std::array<std::int64_t, kWidthSlots>> out(matrices.size());
    std::size_t next = 0;
    for (std::size_t mi = 0; mi < matrices.size(); ++mi) {
        const MatrixSpec& m = matrices[mi];
        out[mi].fill(0);
        const std::int64_t per_row = m.groups_per_row();
        for (std::int64_t r = 0; r < m.rows(); ++r)
            for (std::int64_t j = 0; j < per_row; ++j, ++next)
                out[mi][widths.at(next)] += std::min(m.group(), m.cols() - j * m.group());
    }
    return out;
}
// The size and loss figures every solver result carries under the same names.
template <typename Result>
void take_result(Allocation& out, Result&& r) {
    out.widths = std::move(r.widths);
    out.budget_bits = r.budget_bits;
    out.quantized_bytes = r.quantized_bytes;
    out.total_bytes = r.total_bytes;
    out.avg_bits = r.avg_bits;
    out.predicted_loss = r.predicted_loss;
}
}  // namespace

bool method_uses_reordered_layout(AllocMethod method) { return method != AllocMethod::TileNoReorder; }

const std::vector<AllocMethod>& tile_methods() {
    static const std::vector<AllocMethod> all = {AllocMethod::ScaleBits, AllocMethod::TileNoReorder, AllocMethod::Layer,
                                                 AllocMethod::Uniform, AllocMethod::UniformMix};
    return all;
}

AllocationEngine::AllocationEngine(const Analysis& a, const ProblemOptions& options, const std::vector<AllocMethod>& methods)
    : options_(options) {
    std::shared_ptr<TileProblem> made[2];  // original, reordered: pins still in, until the solvers hold them
    for (AllocMethod m : methods) {
        if (m == AllocMethod::Group) throw InputError("the group method allocates row-groups, not tiles: use allocate()");
        const bool reordered = method_uses_reordered_layout(m);
        auto& problem = made[reordered ? 1 : 0];
        if (!problem) {
            ProblemOptions po = options;
            po.reordered = reordered;
            whole_file_ = allocates_vocab(a, po);
            problem = std::make_shared<TileProblem>(make_tile_problem(a, po));
        }
        const bool have = std::any_of(solvers_.begin(), solvers_.end(), [m](const auto& s) { return s->method() == m; });
        if (!have) solvers_.push_back(std::make_unique<TileMethodSolver>(*problem, m));
    }
    for (auto& p : made)
        if (p) p->tile_pins.clear();  // the solvers keep them (tile_pins())
    original_ = std::move(made[0]);
    reordered_ = std::move(made[1]);
}

AllocationEngine::~AllocationEngine() = default;

std::unique_ptr<AllocationEngine> AllocationEngine::with_tile_pins(const Analysis& a, const ProblemOptions& options) const {
    ProblemOptions same = options;
    same.tile_pins = options_.tile_pins;
    same.reordered = options_.reordered;
    if (!(same == options_)) throw std::logic_error("with_tile_pins: only the tile pins may differ from the engine's options");
    std::unique_ptr<AllocationEngine> out(new AllocationEngine);
    out->original_ = original_;
    out->reordered_ = reordered_;
    out->options_ = options;
    out->whole_file_ = whole_file_;
    std::vector<TilePin> pins[2];  // original, reordered
    if (original_) pins[0] = resolve_tile_pins(a, *original_, options);
    if (reordered_) pins[1] = resolve_tile_pins(a, *reordered_, options);
    for (const auto& s : solvers_) out->solvers_.push_back(s->with_pins(pins[method_uses_reordered_layout(s->method()) ? 1 : 0]));
    return out;
}

const TileMethodSolver& AllocationEngine::solver(AllocMethod method) const {
    for (const auto& s : solvers_)
        if (s->method() == method) return *s;
    throw InputError(std::string("the allocation method ") + alloc_method_name(method) + " was not prepared here");
}

// The tile ladder of `method`'s layout: its own when it has one, else the layout's ladder method's.
const TileMethodSolver& AllocationEngine::ladder_of(AllocMethod method) const {
    const TileMethodSolver& s = solver(method);
    if (s.ladder()) return s;
    return solver(method_uses_reordered_layout(method) ? AllocMethod::ScaleBits : AllocMethod::TileNoReorder);
}

const TileProblem& AllocationEngine::problem(AllocMethod method) const {
    solver(method);  // prepared?
    return method_uses_reordered_layout(method) ? *reordered_ : *original_;
}
const std::vector<TilePin>& AllocationEngine::tile_pins(AllocMethod method) const { return solver(method).tile_pins(); }
double AllocationEngine::min_avg_bits(AllocMethod method) const { return ladder_of(method).ladder()->min_avg_bits(); }
double AllocationEngine::max_avg_bits(AllocMethod method) const { return ladder_of(method).ladder()->max_avg_bits(); }

TileAllocation AllocationEngine::solve_tiles(AllocMethod method, const Budget& budget) const {
    return solver(method).solve(budget);
}

Allocation AllocationEngine::to_allocation(AllocMethod method, TileAllocation t) const {
    Allocation out;
    out.method = method;
    out.reordered = method_uses_reordered_layout(method);
    out.whole_file = whole_file_;
    out.weights_per_width = weights_per_width(problem(method).matrices, t.widths);
    take_result(out, std::move(t));
    return out;
}

Allocation AllocationEngine::solve(AllocMethod method, const Budget& budget) const {
    const auto t0 = std::chrono::steady_clock::now();
    TileAllocation t = solve_tiles(method, budget);
    const double us = elapsed_us(t0);
    Allocation out = to_allocation(method, std::move(t));
    out.solve_us = us;
    return out;
}

Allocation allocate(const Analysis& a, AllocMethod method, const Budget& budget, const ProblemOptions& options) {
    if (method != AllocMethod::Group) return AllocationEngine(a, options, {method}).solve(method, budget);
    ProblemOptions po = options;
    po.reordered = method_uses_reordered_layout(method);
    const GroupProblem problem = make_group_problem(a, po);
    const GroupAllocator solver(problem);
    const auto t0 = std::chrono::steady_clock::now();
    GroupAllocation g = solver.solve(budget);
    Allocation out;
    out.method = method;
    out.reordered = po.reordered;
    out.whole_file = allocates_vocab(a, po);
    out.solve_us = elapsed_us(t0);
    out.granularity = WidthGranularity::Group;
    out.weights_per_width = group_histogram(problem.matrices, g.widths);
    take_result(out, std::move(g));
    return out;
}

}  // namespace scalebits::analysis
