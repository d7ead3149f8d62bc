#include "core/alloc/allocator.h"

#include "core/util/error.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace scalebits {

namespace {

void fill_sizes(TileAllocation& out, std::int64_t bits, std::int64_t weights, std::int64_t overhead) {
    out.bits = bits;
    out.quantized_bytes = bits / 8;  // tile costs are whole bytes
    out.total_bytes = out.quantized_bytes + overhead;
    out.avg_bits = weights > 0 ? double(bits) / double(weights) : 0.0;
}

std::size_t candidate_index(const std::vector<int>& widths, int bits) {
    return std::size_t(std::find(widths.begin(), widths.end(), bits) - widths.begin());
}

// Matrix `mi`'s row of the matrix-level table: its tiles start at `first` in the free tile classes
// `tiles`; [pin, pin_end) are the pins among them. The one computation behind matrix_items and
// LayerAllocator::with_pins, so both give the same numbers to the last bit.
void matrix_row(const TileProblem& problem, const ItemTable& tiles, std::size_t mi, std::int64_t first,
                const TilePin* pin, const TilePin* pin_end, ItemClass& cl, double* S) {
    const std::size_t W = problem.widths.size();
    const MatrixSpec& m = problem.matrices[mi];
    std::tie(cl.lo, cl.hi) = allowed_range(m, problem.widths);
    cl.cost_bits.assign(W, 0);
    std::vector<long double> s(W, 0.0L);
    for (std::int64_t i = 0; i < m.tile_count(); ++i) {
        const std::size_t tile = std::size_t(first + i);
        const ItemClass& tc = tiles.classes[tiles.item_class[tile]];
        // A tile takes its matrix's candidate k, unless a pin holds it to one its matrix is not
        // held to.
        int fixed = -1;
        if (pin != pin_end && pin->tile == first + i) {
            const int kp = int(candidate_index(problem.widths, pin->bits));
            if (kp != cl.lo || kp != cl.hi) fixed = kp;
            ++pin;
        }
        for (std::size_t k = 0; k < W; ++k) {
            const std::size_t kk = fixed >= 0 ? std::size_t(fixed) : k;
            cl.cost_bits[k] += tc.cost_bits[kk];
            s[k] += problem.S[tile * W + kk];
        }
    }
    for (std::size_t k = 0; k < W; ++k) S[k] = double(s[k]);
}

std::vector<std::int64_t> first_tiles(const TileProblem& problem) {
    std::vector<std::int64_t> first{0};
    for (const MatrixSpec& m : problem.matrices) first.push_back(first.back() + m.tile_count());
    return first;
}

// The table with every row computed under `pins`, or, from `free_rows` (the table without pins),
// with only the rows of matrices that hold pins recomputed.
ItemTable matrix_table(const TileProblem& problem, const ItemTable& tiles, const std::vector<std::int64_t>& first,
                       const std::vector<TilePin>& pins, const ItemTable* free_rows) {
    const std::size_t W = problem.widths.size();
    ItemTable t;
    if (free_rows) {
        t = *free_rows;
    } else {
        t.widths = problem.widths;
        t.S.assign(problem.matrices.size() * W, 0.0);
        t.classes.resize(problem.matrices.size());
        for (std::size_t mi = 0; mi < problem.matrices.size(); ++mi) t.item_class.push_back(std::uint32_t(mi));
    }
    auto pin = pins.begin();
    for (std::size_t mi = 0; mi < problem.matrices.size(); ++mi) {
        auto end = pin;
        while (end != pins.end() && end->tile < first[mi + 1]) ++end;
        if (!free_rows || end != pin)
            matrix_row(problem, tiles, mi, first[mi], pins.data() + (pin - pins.begin()), pins.data() + (end - pins.begin()),
                       t.classes[mi], t.S.data() + mi * W);
        pin = end;
    }
    return t;
}

}  // namespace

// ---- TileAllocator ----

struct TileAllocator::Shared {
    Ladder ladder;              // without the tile pins
    ItemTable classes;          // free tile classes (no S)
    std::int64_t quantized_weights = 0;
    std::int64_t overhead_bytes = 0;
};

TileAllocator::TileAllocator(const TileProblem& problem) {
    auto shared = std::make_shared<Shared>();
    shared->classes = tile_classes(problem, {});  // validates the problem
    ItemView view = shared->classes.view();
    view.S = problem.S;
    shared->ladder = Ladder::build(view);
    shared->quantized_weights = problem.quantized_weights();
    shared->overhead_bytes = problem.overhead_bytes;
    *this = TileAllocator(std::move(shared), problem, problem.tile_pins);
}

TileAllocator::TileAllocator(std::shared_ptr<const Shared> shared, const TileProblem& problem, std::vector<TilePin> pins)
    : shared_(std::move(shared)) {
    validate_tile_pins(problem, pins);
    const Ladder& L = shared_->ladder;
    const ItemTable& cls = shared_->classes;
    if (problem.tile_count() != std::int64_t(L.items()))
        throw InputError("tile pins: the problem has " + std::to_string(problem.tile_count()) + " tiles, the allocator " +
                         std::to_string(L.items()));
    const std::size_t W = problem.widths.size();
    long double loss = 0;
    for (const TilePin& p : pins) {
        const std::size_t item = std::size_t(p.tile);
        const ItemClass& c = cls.classes[cls.item_class[item]];
        const std::size_t kp = candidate_index(problem.widths, p.bits), base = L.base_index(item);
        // The ladder checked S over the allowed range only; a pin may lie outside it.
        if (!(problem.S[item * W + kp] >= 0) || !std::isfinite(problem.S[item * W + kp]))
            throw InputError("sensitivity of tile " + std::to_string(item) + " at " + std::to_string(p.bits) +
                             " bits is negative or not finite");
        pins_.base_bits += c.cost_bits[kp] - c.cost_bits[base];
        loss += (long double)problem.S[item * W + kp] - problem.S[item * W + base];
        for (std::size_t q : L.steps_of(item)) pins_.skipped.push_back(q);
    }
    pins_.base_loss = double(loss);
    std::sort(pins_.skipped.begin(), pins_.skipped.end());
    pins_.skipped_bits.assign(1, 0);
    pins_.skipped_gain.assign(1, 0.0);
    for (std::size_t q : pins_.skipped) {
        const Ladder::Step& st = L.steps()[q];
        const ItemClass& c = cls.classes[cls.item_class[st.item]];
        pins_.skipped_bits.push_back(pins_.skipped_bits.back() + c.cost_bits[st.to] - c.cost_bits[st.from]);
        pins_.skipped_gain.push_back(pins_.skipped_gain.back() + problem.S[st.item * W + st.from] -
                                     problem.S[st.item * W + st.to]);
    }
    pins_.pins = std::move(pins);
}

TileAllocator TileAllocator::with_pins(const TileProblem& problem, std::vector<TilePin> pins) const {
    return TileAllocator(shared_, problem, std::move(pins));
}

const Ladder& TileAllocator::ladder() const { return shared_->ladder; }
std::int64_t TileAllocator::quantized_weights() const { return shared_->quantized_weights; }
std::int64_t TileAllocator::overhead_bytes() const { return shared_->overhead_bytes; }

std::size_t TileAllocator::skipped_before(std::size_t prefix) const {
    return std::size_t(std::lower_bound(pins_.skipped.begin(), pins_.skipped.end(), prefix) - pins_.skipped.begin());
}

// Cost and loss after the first `prefix` ladder steps, the pinned tiles' steps skipped.
std::int64_t TileAllocator::bits_at(std::size_t prefix) const {
    return shared_->ladder.bits_at(prefix) - pins_.skipped_bits[skipped_before(prefix)] + pins_.base_bits;
}
double TileAllocator::loss_at(std::size_t prefix) const {
    return std::max(0.0, shared_->ladder.loss_at(prefix) + pins_.skipped_gain[skipped_before(prefix)] + pins_.base_loss);
}

std::int64_t TileAllocator::budget_bits(const Budget& budget) const {
    return budget_to_bits(budget, quantized_weights(), overhead_bytes());
}

double TileAllocator::min_avg_bits() const { return avg_bits_reaching(bits_at(0), quantized_weights()); }

double TileAllocator::max_avg_bits() const {
    return avg_bits_reaching(bits_at(shared_->ladder.size()), quantized_weights());
}

void TileAllocator::solve_into(const Budget& budget, TileAllocation& out) const {
    const Ladder& L = shared_->ladder;
    const std::int64_t allowed = budget_bits(budget);
    require_feasible(budget, allowed, bits_at(0), quantized_weights(), overhead_bytes(), "the quantized tiles");
    // Longest prefix that fits: bits_at never decreases along the ladder (skipped steps add nothing).
    std::size_t lo = 0, hi = L.size();
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo + 1) / 2;
        if (bits_at(mid) <= allowed)
            lo = mid;
        else
            hi = mid - 1;
    }
    out.method = "scalebits";
    out.widths.resize(L.items());
    L.write_widths(lo, out.widths.data());
    apply_tile_pins(pins_.pins, out.widths);
    out.budget_bits = allowed;
    fill_sizes(out, bits_at(lo), quantized_weights(), overhead_bytes());
    out.predicted_loss = loss_at(lo);
    out.prefix = lo - skipped_before(lo);
    out.ladder_size = L.size() - pins_.skipped.size();
}

TileAllocation TileAllocator::solve(const Budget& budget) const {
    TileAllocation out;
    solve_into(budget, out);
    return out;
}

// ---- matrix level ----

ItemTable matrix_items(const TileProblem& problem) {
    const ItemTable tiles = tile_classes(problem, {});  // validates
    return matrix_table(problem, tiles, first_tiles(problem), problem.tile_pins, nullptr);
}

struct LayerAllocator::Shared {
    ItemTable tiles;                  // free tile classes (no S)
    std::vector<std::int64_t> first;  // first tile of each matrix, and the tile count
    ItemTable free_rows;              // the matrix table without tile pins
    std::int64_t quantized_weights = 0;
    std::int64_t overhead_bytes = 0;
};

LayerAllocator::LayerAllocator(const TileProblem& problem) {
    auto shared = std::make_shared<Shared>();
    shared->tiles = tile_classes(problem, {});  // validates
    shared->first = first_tiles(problem);
    shared->free_rows = matrix_table(problem, shared->tiles, shared->first, {}, nullptr);
    shared->quantized_weights = problem.quantized_weights();
    shared->overhead_bytes = problem.overhead_bytes;
    *this = LayerAllocator(std::move(shared), problem, problem.tile_pins);
}

LayerAllocator::LayerAllocator(std::shared_ptr<const Shared> shared, const TileProblem& problem, std::vector<TilePin> pins)
    : shared_(std::move(shared)), pins_(std::move(pins)) {
    validate_tile_pins(problem, pins_);
    items_ = matrix_table(problem, shared_->tiles, shared_->first, pins_, &shared_->free_rows);
    ladder_ = Ladder::build(items_.view());
}

LayerAllocator LayerAllocator::with_pins(const TileProblem& problem, std::vector<TilePin> pins) const {
    return LayerAllocator(shared_, problem, std::move(pins));
}

TileAllocation LayerAllocator::solve(const Budget& budget) const {
    const std::int64_t weights = shared_->quantized_weights, overhead = shared_->overhead_bytes;
    TileAllocation out;
    out.method = "layer";
    out.budget_bits = budget_to_bits(budget, weights, overhead);
    require_feasible(budget, out.budget_bits, ladder_.min_bits(), weights, overhead, "the quantized matrices");
    const std::size_t p = ladder_.prefix_for(out.budget_bits, "the quantized matrices");
    std::vector<std::uint8_t> per_matrix(ladder_.items());
    ladder_.write_widths(p, per_matrix.data());
    for (std::size_t mi = 0; mi < per_matrix.size(); ++mi)
        out.widths.insert(out.widths.end(), std::size_t(shared_->first[mi + 1] - shared_->first[mi]), per_matrix[mi]);
    apply_tile_pins(pins_, out.widths);
    fill_sizes(out, ladder_.bits_at(p), weights, overhead);
    out.predicted_loss = ladder_.loss_at(p);
    out.prefix = p;
    out.ladder_size = ladder_.size();
    return out;
}

}  // namespace scalebits
