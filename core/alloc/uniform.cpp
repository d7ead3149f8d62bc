#include "core/alloc/uniform.h"

#include "core/alloc/allocator.h"
#include "core/util/error.h"

#include <algorithm>
#include <numeric>

namespace scalebits {

namespace {

// Candidate index a matrix gets when the model is asked to be uniform at candidate k.
int clamp_to_allowed(const MatrixSpec& m, const std::vector<int>& widths, int k) {
    const auto [lo, hi] = allowed_range(m, widths);
    return std::clamp(k, lo, hi);
}

int index_of(const std::vector<int>& widths, int bits) {
    for (std::size_t k = 0; k < widths.size(); ++k)
        if (widths[k] == bits) return int(k);
    throw InputError("uniform width " + std::to_string(bits) + " is not one of the candidate widths");
}

// Per matrix and candidate: total cost (bits, headers included) and total S, pinned tiles at their
// pins: the layer method's matrix items (allocator.h).
struct MatrixTotals {
    std::vector<std::vector<std::int64_t>> bits;
    std::vector<std::vector<double>> loss;
};

MatrixTotals matrix_totals(const TileProblem& problem, const ItemTable& items) {
    const std::size_t W = problem.widths.size();
    MatrixTotals t;
    for (std::size_t mi = 0; mi < problem.matrices.size(); ++mi) {
        t.bits.push_back(items.classes[items.item_class[mi]].cost_bits);
        t.loss.emplace_back(items.S.begin() + std::ptrdiff_t(mi * W), items.S.begin() + std::ptrdiff_t((mi + 1) * W));
    }
    return t;
}

TileAllocation from_matrix_choice(const TileProblem& problem, const MatrixTotals& tot, const std::vector<TilePin>& pins,
                                  const std::vector<int>& choice, const char* method) {
    TileAllocation out;
    out.method = method;
    long double loss = 0;
    for (std::size_t mi = 0; mi < problem.matrices.size(); ++mi) {
        const int k = choice[mi];
        out.widths.insert(out.widths.end(), std::size_t(problem.matrices[mi].tile_count()),
                          std::uint8_t(problem.widths[std::size_t(k)]));
        out.bits += tot.bits[mi][std::size_t(k)];
        loss += tot.loss[mi][std::size_t(k)];
    }
    apply_tile_pins(pins, out.widths);
    out.predicted_loss = double(loss);
    out.quantized_bytes = out.bits / 8;
    out.total_bytes = out.quantized_bytes + problem.overhead_bytes;
    const std::int64_t w = problem.quantized_weights();
    out.avg_bits = w > 0 ? double(out.bits) / double(w) : 0.0;
    return out;
}

std::vector<int> uniform_choice(const TileProblem& problem, int k) {
    std::vector<int> choice;
    for (const MatrixSpec& m : problem.matrices) choice.push_back(clamp_to_allowed(m, problem.widths, k));
    return choice;
}

}  // namespace

TileAllocation uniform_allocation(const TileProblem& problem, int bits) {
    const int k = index_of(problem.widths, bits);
    const MatrixTotals tot = matrix_totals(problem, matrix_items(problem));
    return from_matrix_choice(problem, tot, problem.tile_pins, uniform_choice(problem, k), "uniform");
}

TileAllocation best_uniform(const TileProblem& problem, const Budget& budget) {
    return best_uniform(problem, matrix_items(problem), problem.tile_pins, budget);
}

TileAllocation best_uniform(const TileProblem& problem, const ItemTable& items, const std::vector<TilePin>& pins,
                            const Budget& budget) {
    const MatrixTotals tot = matrix_totals(problem, items);
    const std::int64_t allowed = budget_to_bits(budget, problem.quantized_weights(), problem.overhead_bytes);
    for (int k = int(problem.widths.size()) - 1; k >= 0; --k) {
        TileAllocation a = from_matrix_choice(problem, tot, pins, uniform_choice(problem, k), "uniform");
        if (a.bits <= allowed) {
            a.budget_bits = allowed;
            return a;
        }
    }
    throw InputError("budget of " + budget.describe() + " is below the smallest uniform allocation (" +
                     std::to_string(problem.widths.front()) + " bits everywhere)");
}

TileAllocation uniform_mix(const TileProblem& problem, const Budget& budget) {
    return uniform_mix(problem, matrix_items(problem), problem.tile_pins, budget);
}

TileAllocation uniform_mix(const TileProblem& problem, const ItemTable& items, const std::vector<TilePin>& pins,
                           const Budget& budget) {
    const MatrixTotals tot = matrix_totals(problem, items);
    const std::int64_t allowed = budget_to_bits(budget, problem.quantized_weights(), problem.overhead_bytes);
    const int W = int(problem.widths.size());
    int k_lo = -1;
    std::vector<int> choice;
    std::int64_t used = 0;
    for (int k = W - 1; k >= 0 && k_lo < 0; --k) {
        choice = uniform_choice(problem, k);
        used = 0;
        for (std::size_t mi = 0; mi < choice.size(); ++mi) used += tot.bits[mi][std::size_t(choice[mi])];
        if (used <= allowed) k_lo = k;
    }
    if (k_lo < 0)
        throw InputError("budget of " + budget.describe() + " is below the smallest uniform allocation (" +
                         std::to_string(problem.widths.front()) + " bits everywhere)");
    if (k_lo + 1 < W) {
        const std::vector<int> upper = uniform_choice(problem, k_lo + 1);
        std::vector<std::size_t> order;
        for (std::size_t mi = 0; mi < choice.size(); ++mi)
            if (upper[mi] != choice[mi]) order.push_back(mi);
        auto rate = [&](std::size_t mi) {
            const double gain = tot.loss[mi][std::size_t(choice[mi])] - tot.loss[mi][std::size_t(upper[mi])];
            const double extra = double(tot.bits[mi][std::size_t(upper[mi])] - tot.bits[mi][std::size_t(choice[mi])]);
            return extra > 0 ? gain / extra : gain * 1e300;
        };
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return rate(a) > rate(b); });
        for (std::size_t mi : order) {
            const std::int64_t extra = tot.bits[mi][std::size_t(upper[mi])] - tot.bits[mi][std::size_t(choice[mi])];
            if (rate(mi) <= 0) continue;  // moving up would not lower the predicted loss
            if (used + extra <= allowed) {
                used += extra;
                choice[mi] = upper[mi];
            }
        }
    }
    TileAllocation out = from_matrix_choice(problem, tot, pins, choice, "uniform-mix");
    out.budget_bits = allowed;
    return out;
}

}  // namespace scalebits
