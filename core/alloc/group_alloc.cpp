#include "core/alloc/group_alloc.h"

#include "core/alloc/tile_problem.h"
#include "core/util/error.h"

#include <map>
#include <tuple>

namespace scalebits {

std::int64_t GroupProblem::group_count() const {
    std::int64_t n = 0;
    for (const MatrixSpec& m : matrices) n += m.group_count();
    return n;
}

std::int64_t GroupProblem::quantized_weights() const {
    std::int64_t n = 0;
    for (const MatrixSpec& m : matrices) n += m.weights();
    return n;
}

GroupAllocator::GroupAllocator(const GroupProblem& problem) {
    validate_matrices(problem.matrices);
    const std::size_t W = problem.widths.size();
    if (std::int64_t(problem.S.size()) != problem.group_count() * std::int64_t(W))
        throw InputError("group sensitivity table holds " + std::to_string(problem.S.size()) + " values, expected " +
                         std::to_string(problem.group_count() * std::int64_t(W)) + " (groups x widths)");
    ItemTable t;
    t.widths = problem.widths;
    t.item_class.reserve(std::size_t(problem.group_count()));
    std::map<std::tuple<std::int64_t, int, int>, std::uint32_t> ids;  // (group length, lo, hi)
    for (const MatrixSpec& m : problem.matrices) {
        const auto [lo, hi] = allowed_range(m, problem.widths);
        const std::int64_t per_row = m.groups_per_row();
        for (std::int64_t r = 0; r < m.rows(); ++r) {
            for (std::int64_t j = 0; j < per_row; ++j) {
                const std::int64_t len = std::min(m.group(), m.cols() - j * m.group());
                const auto key = std::make_tuple(len, lo, hi);
                auto it = ids.find(key);
                if (it == ids.end()) {
                    ItemClass cl;
                    cl.lo = lo;
                    cl.hi = hi;
                    for (int b : problem.widths) cl.cost_bits.push_back(group_bits(len, b));
                    it = ids.emplace(key, std::uint32_t(t.classes.size())).first;
                    t.classes.push_back(std::move(cl));
                }
                t.item_class.push_back(it->second);
            }
        }
    }
    ItemView view = t.view();
    view.S = problem.S;
    ladder_ = Ladder::build(view);
    quantized_weights_ = problem.quantized_weights();
    overhead_bytes_ = problem.overhead_bytes;
}

GroupAllocation GroupAllocator::solve(const Budget& budget) const {
    GroupAllocation out;
    out.budget_bits = budget_to_bits(budget, quantized_weights_, overhead_bytes_);
    // budget_to_bits gives whole bytes * 8 for byte budgets, so ceil(bits / 8) stays within them.
    require_feasible(budget, out.budget_bits, ladder_.min_bits(), quantized_weights_, overhead_bytes_,
                     "the quantized row-groups");
    const std::size_t p = ladder_.prefix_for(out.budget_bits, "the quantized groups");
    out.widths.resize(ladder_.items());
    ladder_.write_widths(p, out.widths.data());
    out.bits = ladder_.bits_at(p);
    out.quantized_bytes = (out.bits + 7) / 8;
    out.total_bytes = out.quantized_bytes + overhead_bytes_;
    out.avg_bits = quantized_weights_ > 0 ? double(out.bits) / double(quantized_weights_) : 0.0;
    out.predicted_loss = ladder_.loss_at(p);
    out.prefix = p;
    return out;
}

}  // namespace scalebits
