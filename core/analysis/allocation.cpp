#include "core/analysis/allocation.h"

#include <chrono>

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
        for (std::int64_t r = 0; r < m.rows; ++r)
            for (std::int64_t j = 0; j < per_row; ++j, ++next)
                out[mi][widths.at(next)] += std::min(m.group, m.cols - j * m.group);
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

Allocation allocate(const Analysis& a, AllocMethod method, const Budget& budget, const ProblemOptions& options) {
    Allocation out;
    out.method = method;
    out.reordered = method_uses_reordered_layout(method);
    ProblemOptions po = options;
    po.reordered = out.reordered;
    out.whole_file = allocates_vocab(a, po);
    if (method == AllocMethod::Group) {
        const GroupProblem problem = make_group_problem(a, po);
        const GroupAllocator solver(problem);
        const auto t0 = std::chrono::steady_clock::now();
        GroupAllocation g = solver.solve(budget);
        out.solve_us = elapsed_us(t0);
        out.granularity = WidthGranularity::Group;
        out.weights_per_width = group_histogram(problem.matrices, g.widths);
        take_result(out, std::move(g));
        return out;
    }
    const TileProblem problem = make_tile_problem(a, po);
    const auto t0 = std::chrono::steady_clock::now();
    TileAllocation t = allocate_tiles(problem, budget, method);
    out.solve_us = elapsed_us(t0);
    out.weights_per_width = weights_per_width(problem.matrices, t.widths);
    take_result(out, std::move(t));
    return out;
}

}  // namespace scalebits::analysis
