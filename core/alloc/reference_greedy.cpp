#include "core/alloc/reference_greedy.h"

#include "core/util/error.h"

namespace scalebits {

GreedyResult reference_greedy(const ItemView& v, std::int64_t budget_bits) {
    const std::size_t W = v.widths.size();
    const std::size_t n = v.item_class.size();
    GreedyResult r;
    r.index.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const ItemClass& c = v.classes[v.item_class[i]];
        int best = c.lo;
        for (int k = c.lo + 1; k <= c.hi; ++k) {
            const bool cheaper = c.cost_bits[k] < c.cost_bits[best];
            const bool same_but_better = c.cost_bits[k] == c.cost_bits[best] && v.S[i * W + k] < v.S[i * W + best];
            if (cheaper || same_but_better) best = k;
        }
        r.index[i] = std::uint8_t(best);
        r.bits += c.cost_bits[best];
        r.loss += v.S[i * W + best];
    }
    if (r.bits > budget_bits) throw InputError("budget below the cheapest allocation");
    for (;;) {
        double best_rate = 0;
        std::size_t best_item = n;
        int best_k = -1;
        for (std::size_t i = 0; i < n; ++i) {
            const ItemClass& c = v.classes[v.item_class[i]];
            const int cur = r.index[i];
            for (int k = c.lo; k <= c.hi; ++k) {
                const std::int64_t extra = c.cost_bits[k] - c.cost_bits[cur];
                const double gain = v.S[i * W + cur] - v.S[i * W + k];
                if (extra <= 0 || gain <= 0) continue;
                const double rate = gain / double(extra);
                // Strictly better rate wins; an equal rate prefers the farther candidate of the same
                // item (collinear hull points are skipped) but keeps the lower item.
                if (rate > best_rate || (rate == best_rate && i == best_item && k > best_k)) {
                    best_rate = rate;
                    best_item = i;
                    best_k = k;
                }
            }
        }
        if (best_item == n) break;
        const ItemClass& c = v.classes[v.item_class[best_item]];
        const std::int64_t extra = c.cost_bits[best_k] - c.cost_bits[r.index[best_item]];
        if (r.bits + extra > budget_bits) break;
        r.bits += extra;
        r.loss -= v.S[best_item * W + r.index[best_item]] - v.S[best_item * W + best_k];
        r.index[best_item] = std::uint8_t(best_k);
        ++r.steps;
    }
    return r;
}

}  // namespace scalebits
