#include "core/alloc/ladder.h"

#include "core/alloc/radix_sort.h"
#include "core/util/error.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace scalebits {

namespace {

constexpr int kMaxCandidates = 7;  // widths 2..8

void validate(const ItemView& v) {
    const std::size_t W = v.widths.size();
    if (W == 0 || W > kMaxCandidates) throw InputError("between 1 and 7 candidate widths are needed, got " + std::to_string(W));
    for (std::size_t k = 0; k < W; ++k) {
        if (v.widths[k] < 2 || v.widths[k] > 8)
            throw InputError("candidate width " + std::to_string(v.widths[k]) + " is outside 2..8");
        if (k > 0 && v.widths[k] <= v.widths[k - 1]) throw InputError("candidate widths must be strictly ascending");
    }
    for (std::size_t c = 0; c < v.classes.size(); ++c) {
        const ItemClass& cl = v.classes[c];
        if (cl.cost_bits.size() != W) throw InputError("cost table of class " + std::to_string(c) + " has the wrong length");
        if (cl.lo < 0 || cl.hi >= int(W) || cl.lo > cl.hi)
            throw InputError("class " + std::to_string(c) + " allows no candidate width");
        for (std::size_t k = 0; k < W; ++k) {
            if (cl.cost_bits[k] < 0) throw InputError("negative cost in class " + std::to_string(c));
            if (k > 0 && cl.cost_bits[k] < cl.cost_bits[k - 1])
                throw InputError("cost decreases with width in class " + std::to_string(c));
        }
    }
    if (v.S.size() != v.item_class.size() * W)
        throw InputError("sensitivity table holds " + std::to_string(v.S.size()) + " values, expected " +
                         std::to_string(v.item_class.size() * W));
    if (v.item_class.size() >= std::numeric_limits<std::uint32_t>::max() / kMaxCandidates)
        throw InputError("too many items for one ladder");
}

struct Point {
    double cost;
    double loss;
    int k;
};

// Lower convex hull of the allowed points of one item, cut where the loss stops decreasing.
// Returns the number of vertices written to hull; hull[0] is the base (cheapest, then lowest loss).
int lower_hull(const std::int64_t* cost, const double* S, int lo, int hi, Point* hull) {
    int n = 0;
    for (int k = lo; k <= hi; ++k) {
        const Point p{double(cost[k]), S[k], k};
        if (n > 0 && p.cost == hull[n - 1].cost) {
            if (p.loss >= hull[n - 1].loss) continue;  // same price, no better: never chosen
            --n;                                       // same price, better: replaces it
        }
        // Pop the last vertex while it lies on or above the segment from its predecessor to p
        // (collinear vertices are dropped, so slopes strictly increase along the hull).
        while (n >= 2) {
            const Point& a = hull[n - 2];
            const Point& b = hull[n - 1];
            const double cross = (b.cost - a.cost) * (p.loss - b.loss) - (b.loss - a.loss) * (p.cost - b.cost);
            if (cross > 0) break;
            --n;
        }
        hull[n++] = p;
    }
    // Only segments that lower the loss are upgrades worth bits.
    int m = 1;
    while (m < n && hull[m].loss < hull[m - 1].loss) ++m;
    return m;
}

}  // namespace

Ladder Ladder::build(const ItemView& v) {
    validate(v);
    const std::size_t W = v.widths.size();
    const std::size_t n = v.item_class.size();
    Ladder L;
    L.widths_.assign(v.widths.begin(), v.widths.end());
    L.n_items_ = n;

    // Upgrades in generation order (item by item, cheapest first).
    std::vector<std::uint32_t> seg_item;
    std::vector<std::uint8_t> seg_from, seg_to;
    std::vector<std::int64_t> seg_bits;
    std::vector<double> seg_gain, seg_benefit;
    std::vector<KeyIndex> order;
    const std::size_t reserve = n * std::min<std::size_t>(W - 1, 3);
    seg_item.reserve(reserve);
    seg_from.reserve(reserve);
    seg_to.reserve(reserve);
    seg_bits.reserve(reserve);
    seg_gain.reserve(reserve);
    seg_benefit.reserve(reserve);
    order.reserve(reserve);

    std::vector<std::uint8_t> base(n);
    std::int64_t base_bits = 0;
    long double base_loss = 0;
    Point hull[kMaxCandidates];
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t c = v.item_class[i];
        if (c >= v.classes.size()) throw InputError("item " + std::to_string(i) + " names a missing class");
        const ItemClass& cl = v.classes[c];
        const double* S = v.S.data() + i * W;
        for (int k = cl.lo; k <= cl.hi; ++k)
            if (!std::isfinite(S[k]) || S[k] < 0)
                throw InputError("sensitivity of item " + std::to_string(i) + " at " + std::to_string(v.widths[k]) +
                                 " bits is negative or not finite");
        const int m = lower_hull(cl.cost_bits.data(), S, cl.lo, cl.hi, hull);
        base[i] = std::uint8_t(hull[0].k);
        base_bits += cl.cost_bits[hull[0].k];
        base_loss += hull[0].loss;
        double prev = std::numeric_limits<double>::infinity();
        for (int s = 1; s < m; ++s) {
            const std::int64_t dbits = cl.cost_bits[hull[s].k] - cl.cost_bits[hull[s - 1].k];
            const double gain = hull[s - 1].loss - hull[s].loss;
            // Mathematically the slopes decrease along the hull; clamp so rounding cannot invert them
            // (equal keys then keep generation order, which keeps the item's prefix consistent).
            const double benefit = std::min(prev, gain / double(dbits));
            prev = benefit;
            order.push_back({~std::bit_cast<std::uint64_t>(benefit), std::uint32_t(seg_item.size())});
            seg_item.push_back(std::uint32_t(i));
            seg_from.push_back(std::uint8_t(hull[s - 1].k));
            seg_to.push_back(std::uint8_t(hull[s].k));
            seg_bits.push_back(dbits);
            seg_gain.push_back(gain);
            seg_benefit.push_back(benefit);
        }
    }

    // Positive doubles order like their bit patterns; inverting gives decreasing benefit.
    radix_sort_stable(order);

    const std::size_t L_n = order.size();
    L.steps_.resize(L_n);
    L.benefit_.resize(L_n);
    L.cum_bits_.assign(L_n + 1, 0);
    L.cum_loss_.assign(L_n + 1, 0.0);
    L.cum_bits_[0] = base_bits;
    L.cum_loss_[0] = double(base_loss);
    long double gained = 0;
    for (std::size_t q = 0; q < L_n; ++q) {
        const std::uint32_t s = order[q].index;
        L.steps_[q] = {seg_item[s], seg_from[s], seg_to[s]};
        L.benefit_[q] = seg_benefit[s];
        L.cum_bits_[q + 1] = L.cum_bits_[q] + seg_bits[s];
        gained += seg_gain[s];
        // Clamp at 0: the loss cannot go below zero however rounding accumulates.
        L.cum_loss_[q + 1] = std::max(0.0, double(base_loss - gained));
    }

    L.need_.assign(W > 1 ? W - 1 : 0, std::vector<std::uint32_t>(n));
    for (std::size_t k = 1; k < W; ++k) {
        std::uint32_t* need = L.need_[k - 1].data();
        for (std::size_t i = 0; i < n; ++i) need[i] = base[i] >= k ? 0u : std::numeric_limits<std::uint32_t>::max();
    }
    for (std::size_t q = 0; q < L_n; ++q) {
        const Step& st = L.steps_[q];
        for (int k = st.from + 1; k <= st.to; ++k) L.need_[k - 1][st.item] = std::uint32_t(q + 1);
    }
    return L;
}

std::size_t Ladder::prefix_for(std::int64_t budget_bits, const char* what) const {
    if (budget_bits < cum_bits_.front())
        throw InputError("budget of " + std::to_string(budget_bits / 8) + " bytes is below the minimum of " +
                         std::to_string((cum_bits_.front() + 7) / 8) + " bytes for " + what +
                         " (every item at its lowest allowed width)");
    const auto it = std::upper_bound(cum_bits_.begin(), cum_bits_.end(), budget_bits);
    return std::size_t(it - cum_bits_.begin()) - 1;
}

std::uint8_t Ladder::base_index(std::size_t item) const {
    std::uint8_t k = 0;
    for (const auto& need : need_) k += need[item] == 0 ? 1 : 0;
    return k;
}

void Ladder::write_widths(std::size_t prefix, std::uint8_t* out) const {
    const std::uint32_t p = std::uint32_t(std::min(prefix, steps_.size()));
    const std::size_t K = need_.size();
    std::uint8_t delta[kMaxCandidates] = {};
    for (std::size_t k = 0; k < K; ++k) delta[k] = std::uint8_t(widths_[k + 1] - widths_[k]);
    const std::uint8_t w0 = std::uint8_t(widths_[0]);
    // Blocks small enough that `out` stays in L1 while the W-1 need streams pass over it.
    constexpr std::size_t kBlock = 4096;
    for (std::size_t start = 0; start < n_items_; start += kBlock) {
        const std::size_t len = std::min(kBlock, n_items_ - start);
        std::uint8_t* o = out + start;
        for (std::size_t i = 0; i < len; ++i) o[i] = w0;
        for (std::size_t k = 0; k < K; ++k) {
            const std::uint32_t* need = need_[k].data() + start;
            const std::uint8_t d = delta[k];
            for (std::size_t i = 0; i < len; ++i) o[i] += std::uint8_t(need[i] <= p ? d : 0);
        }
    }
}

Resolver::Resolver(const Ladder& ladder)
    : ladder_(&ladder), widths_(ladder.items()), incremental_limit_(std::max<std::size_t>(64, ladder.items() / 16)) {
    ladder.write_widths(0, widths_.data());
}

void Resolver::set_prefix(std::size_t prefix) {
    prefix = std::min(prefix, ladder_->size());
    const auto& steps = ladder_->steps();
    const auto& w = ladder_->widths();
    if (prefix >= prefix_ && prefix - prefix_ <= incremental_limit_) {
        for (std::size_t q = prefix_; q < prefix; ++q) widths_[steps[q].item] = std::uint8_t(w[steps[q].to]);
    } else if (prefix < prefix_ && prefix_ - prefix <= incremental_limit_) {
        for (std::size_t q = prefix_; q-- > prefix;) widths_[steps[q].item] = std::uint8_t(w[steps[q].from]);
    } else {
        ladder_->write_widths(prefix, widths_.data());
    }
    prefix_ = prefix;
}

std::size_t Resolver::resolve(std::int64_t budget_bits, const char* what) {
    set_prefix(ladder_->prefix_for(budget_bits, what));
    return prefix_;
}

}  // namespace scalebits
