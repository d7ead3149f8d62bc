#include "core/alloc/ladder.h"

#include "core/alloc/cost_model.h"
#include "core/alloc/radix_sort.h"
#include "core/util/error.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <exception>
#include <thread>
#include <cstring>

namespace scalebits {

namespace {

constexpr int kMaxCandidates = 8;  // widths 2..8 and 16 (kept at fp16): indices fit the steps' 3 bits
constexpr int kClassBits = 26;     // payload: item 32 bits | from 3 | to 3 | class 26
// Below this many items a second thread costs more than it saves.
constexpr std::size_t kParallelItems = 1 << 17;
constexpr std::uint16_t kNever = 0xFFFF;  // need_ value of a candidate an item never reaches

std::uint64_t pack_step(std::uint32_t item, std::uint32_t cls, int from, int to) {
    return std::uint64_t(item) | std::uint64_t(from) << 32 | std::uint64_t(to) << 35 |
           std::uint64_t(cls) << (64 - kClassBits);
}

void validate(const ItemView& v) {
    const std::size_t W = v.widths.size();
    if (W == 0 || W > kMaxCandidates) throw InputError("between 1 and 8 candidate widths are needed, got " + std::to_string(W));
    for (std::size_t k = 0; k < W; ++k) {
        if (!is_tile_width(v.widths[k]))
            throw InputError("candidate width " + std::to_string(v.widths[k]) + " is outside 2..8 (or 16: kept at fp16)");
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

// Runs a and b, b on a second thread when `parallel`; rethrows the first exception either raised.
// The machine this targets has two cores, so the precompute splits in two, no more.
template <class A, class B>
void run_pair(bool parallel, A&& a, B&& b) {
    if (!parallel) {
        a();
        b();
        return;
    }
    std::exception_ptr err_b;
    std::thread t([&] {
        try {
            b();
        } catch (...) {
            err_b = std::current_exception();
        }
    });
    std::exception_ptr err_a;
    try {
        a();
    } catch (...) {
        err_a = std::current_exception();
    }
    t.join();
    if (err_a) std::rethrow_exception(err_a);
    if (err_b) std::rethrow_exception(err_b);
}

// One half of the items: its upgrades as sort records, and the cost and loss of its base widths.
struct Half {
    std::vector<KeyIndex> order;
    std::int64_t base_bits = 0;
    long double base_loss = 0;
};

// Hulls of items [begin, end): writes each item's base candidate and collects its upgrades as sort
// records in generation order (item by item, cheapest first), then sorts them by decreasing benefit.
void build_half(const ItemView& v, std::size_t begin, std::size_t end, std::uint8_t* base, Half& out) {
    const std::size_t W = v.widths.size();
    out.order.reserve((end - begin) * std::min<std::size_t>(W - 1, 3));
    Point hull[kMaxCandidates];
    for (std::size_t i = begin; i < end; ++i) {
        const std::uint32_t c = v.item_class[i];
        if (c >= v.classes.size()) throw InputError("item " + std::to_string(i) + " names a missing class");
        const ItemClass& cl = v.classes[c];
        const double* S = v.S.data() + i * W;
        for (int k = cl.lo; k <= cl.hi; ++k)
            if (!(S[k] >= 0) || S[k] > std::numeric_limits<double>::max())
                throw InputError("sensitivity of item " + std::to_string(i) + " at " + std::to_string(v.widths[k]) +
                                 " bits is negative or not finite");
        const int m = lower_hull(cl.cost_bits.data(), S, cl.lo, cl.hi, hull);
        base[i] = std::uint8_t(hull[0].k);
        out.base_bits += cl.cost_bits[hull[0].k];
        out.base_loss += hull[0].loss;
        double prev = std::numeric_limits<double>::infinity();
        for (int s = 1; s < m; ++s) {
            const std::int64_t dbits = cl.cost_bits[hull[s].k] - cl.cost_bits[hull[s - 1].k];
            const double gain = hull[s - 1].loss - hull[s].loss;
            // Mathematically the slopes decrease along the hull; clamp so rounding cannot invert them
            // (equal keys then keep generation order, which keeps the item's prefix consistent).
            const double benefit = std::min(prev, gain / double(dbits));
            prev = benefit;
            // Positive doubles order like their bit patterns; inverting sorts by decreasing benefit.
            out.order.push_back({~std::bit_cast<std::uint64_t>(benefit),
                                 pack_step(std::uint32_t(i), c, hull[s - 1].k, hull[s].k)});
        }
    }
    radix_sort_stable(out.order);
}

}  // namespace

Ladder Ladder::build(const ItemView& v) {
    validate(v);
    const std::size_t W = v.widths.size();
    const std::size_t n = v.item_class.size();
    if (v.classes.size() > (std::size_t{1} << kClassBits))
        throw InputError("too many item classes (" + std::to_string(v.classes.size()) + ") for one ladder");
    Ladder L;
    L.widths_.assign(v.widths.begin(), v.widths.end());
    L.n_items_ = n;
    const bool parallel = n >= kParallelItems;

    // 1. Hulls and sort, the items split in two halves. Each sort record carries its whole step
    //    (item, class, from, to) as payload, so nothing is gathered by random access afterwards: on
    //    millions of steps those cache misses cost more than the sort itself.
    std::vector<std::uint8_t> base(n);
    Half h[2];
    const std::size_t mid = parallel ? n / 2 : n;
    run_pair(parallel, [&] { build_half(v, 0, mid, base.data(), h[0]); },
             [&] { build_half(v, mid, n, base.data(), h[1]); });

    // 2. Merge the halves (ties: the first half, i.e. the lower item, first) into the ladder with
    //    its prefix sums.
    const std::size_t total = h[0].order.size() + h[1].order.size();
    L.steps_.resize(total);
    L.cum_bits_.resize(total + 1);
    L.cum_loss_.resize(total + 1);
    const long double base_loss = h[0].base_loss + h[1].base_loss;
    L.cum_bits_[0] = h[0].base_bits + h[1].base_bits;
    L.cum_loss_[0] = double(base_loss);
    const KeyIndex* a = h[0].order.data();
    const KeyIndex* a_end = a + h[0].order.size();
    const KeyIndex* b = h[1].order.data();
    const KeyIndex* b_end = b + h[1].order.size();
    // Kahan-compensated sum of the loss reductions: millions of small terms against a large base.
    double gained = 0, carry = 0;
    for (std::size_t q = 0; q < total; ++q) {
        const KeyIndex& r = (b == b_end || (a != a_end && a->key <= b->key)) ? *a++ : *b++;
        const std::uint64_t pk = r.index;
        const Step st{std::uint32_t(pk), std::uint8_t((pk >> 32) & 7), std::uint8_t((pk >> 35) & 7)};
        const ItemClass& cl = v.classes[pk >> (64 - kClassBits)];
        const std::int64_t dbits = cl.cost_bits[st.to] - cl.cost_bits[st.from];
        L.steps_[q] = st;
        L.cum_bits_[q + 1] = L.cum_bits_[q] + dbits;
        // benefit * bits is the step's loss reduction up to rounding (it undoes the division).
        const double y = std::bit_cast<double>(~r.key) * double(dbits) - carry;
        const double t = gained + y;
        carry = (t - gained) - y;
        gained = t;
        // Clamp at 0: the loss cannot go below zero however rounding accumulates.
        L.cum_loss_[q + 1] = std::max(0.0, double(base_loss - gained));
    }
    h[0] = {};
    h[1] = {};

    // 3. Width tables, coarse: need_[k-1][item] = 1 + (q >> shift_) for the step q at which the item
    //    reaches candidate k (0 when its base already is, 0xFFFF when never). 16 bits per entry halve
    //    the bytes a re-solve streams; the < 2^shift_ steps that share the final block are then
    //    applied one by one. Every (k, item) is written by exactly one step, so the two halves of the
    //    ladder never collide.
    L.shift_ = 0;
    while ((total >> L.shift_) + 1 >= kNever) ++L.shift_;
    L.need_.assign(W - 1, std::vector<std::uint16_t>(n));
    for (std::size_t k = 1; k < W; ++k) {
        std::uint16_t* need = L.need_[k - 1].data();
        for (std::size_t i = 0; i < n; ++i) need[i] = base[i] >= k ? 0 : kNever;
    }
    auto fill_need = [&L](std::size_t q0, std::size_t q1) {
        for (std::size_t q = q0; q < q1; ++q) {
            const Step& st = L.steps_[q];
            const auto block = std::uint16_t((q >> L.shift_) + 1);
            for (int k = st.from + 1; k <= st.to; ++k) L.need_[std::size_t(k) - 1][st.item] = block;
        }
    };
    run_pair(parallel, [&] { fill_need(0, total / 2); }, [&] { fill_need(total / 2, total); });
    return L;
}

double Ladder::benefit_at(std::size_t step) const {
    return (cum_loss_[step] - cum_loss_[step + 1]) / double(cum_bits_[step + 1] - cum_bits_[step]);
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

std::vector<std::size_t> Ladder::steps_of(std::size_t item) const {
    std::vector<std::size_t> out;
    if (item >= n_items_) return out;
    std::uint16_t last_block = 0;
    for (const auto& need : need_) {
        const std::uint16_t block = need[item];
        // Blocks grow with the candidate (an item's upgrades come in order); one upgrade may lift
        // several candidates, so equal blocks repeat.
        if (block == 0 || block == kNever || block == last_block) continue;
        last_block = block;
        const std::size_t q0 = (std::size_t(block) - 1) << shift_;
        const std::size_t q1 = std::min(steps_.size(), std::size_t(block) << shift_);
        for (std::size_t q = q0; q < q1; ++q)
            if (steps_[q].item == item && (out.empty() || out.back() < q)) out.push_back(q);
    }
    return out;
}

void Ladder::write_widths(std::size_t prefix, std::uint8_t* out) const {
    prefix = std::min(prefix, steps_.size());
    const std::size_t K = need_.size();
    std::uint8_t delta[kMaxCandidates] = {};
    for (std::size_t k = 0; k < K; ++k) delta[k] = std::uint8_t(widths_[k + 1] - widths_[k]);
    const std::uint8_t w0 = std::uint8_t(widths_[0]);
    // Coarse pass: every step before the start of prefix's block, one streaming pass over the W-1
    // need arrays.
    const std::size_t block_start = (prefix >> shift_) << shift_;
    const auto P = std::uint16_t(prefix >> shift_);
    std::size_t i = 0;
#if defined(__GNUC__)
    // Eight items at a time with GCC/Clang vector extensions (SSE2 on x86-64, NEON on ARM), written
    // out explicitly because the default RelWithDebInfo build (-O2) does not auto-vectorize the loop.
    using u16x8 = std::uint16_t __attribute__((vector_size(16)));
    using u8x8 = std::uint8_t __attribute__((vector_size(8)));
    const u16x8 Pv = u16x8{} + P;
    u16x8 dv[kMaxCandidates];
    for (std::size_t k = 0; k < K; ++k) dv[k] = u16x8{} + std::uint16_t(delta[k]);
    for (; i + 8 <= n_items_; i += 8) {
        u16x8 acc = u16x8{} + std::uint16_t(w0);
        for (std::size_t k = 0; k < K; ++k) {
            u16x8 nv;
            std::memcpy(&nv, need_[k].data() + i, sizeof nv);
            acc += reinterpret_cast<u16x8>(nv <= Pv) & dv[k];
        }
        const u8x8 w = __builtin_convertvector(acc, u8x8);
        std::memcpy(out + i, &w, sizeof w);
    }
#endif
    for (; i < n_items_; ++i) {
        unsigned w = w0;
        for (std::size_t k = 0; k < K; ++k) w += need_[k][i] <= P ? delta[k] : 0u;
        out[i] = std::uint8_t(w);
    }
    // Fine pass: the few steps inside the block.
    for (std::size_t q = block_start; q < prefix; ++q) out[steps_[q].item] = std::uint8_t(widths_[steps_[q].to]);
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
