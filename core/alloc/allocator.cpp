#include "core/alloc/allocator.h"

#include "core/util/error.h"

#include <tuple>

namespace scalebits {

namespace {

void fill_sizes(TileAllocation& out, std::int64_t bits, std::int64_t weights, std::int64_t overhead) {
    out.bits = bits;
    out.quantized_bytes = bits / 8;  // tile costs are whole bytes
    out.total_bytes = out.quantized_bytes + overhead;
    out.avg_bits = weights > 0 ? double(bits) / double(weights) : 0.0;
}

}  // namespace

TileAllocator::TileAllocator(const TileProblem& problem) {
    const ItemTable classes = tile_classes(problem);  // validates the problem
    ItemView view = classes.view();
    view.S = problem.S;
    ladder_ = Ladder::build(view);
    quantized_weights_ = problem.quantized_weights();
    overhead_bytes_ = problem.overhead_bytes;
}

std::int64_t TileAllocator::budget_bits(const Budget& budget) const {
    return budget_to_bits(budget, quantized_weights_, overhead_bytes_);
}

double TileAllocator::min_avg_bits() const {
    return quantized_weights_ > 0 ? double(ladder_.min_bits()) / double(quantized_weights_) : 0.0;
}

double TileAllocator::max_avg_bits() const {
    return quantized_weights_ > 0 ? double(ladder_.max_bits()) / double(quantized_weights_) : 0.0;
}

void TileAllocator::solve_into(const Budget& budget, TileAllocation& out) const {
    const std::int64_t allowed = budget_bits(budget);
    require_feasible(budget, allowed, ladder_.min_bits(), quantized_weights_, overhead_bytes_, "the quantized tiles");
    const std::size_t p = ladder_.prefix_for(allowed, "the quantized tiles");
    out.method = "scalebits";
    out.widths.resize(ladder_.items());
    ladder_.write_widths(p, out.widths.data());
    out.budget_bits = allowed;
    fill_sizes(out, ladder_.bits_at(p), quantized_weights_, overhead_bytes_);
    out.predicted_loss = ladder_.loss_at(p);
    out.prefix = p;
    out.ladder_size = ladder_.size();
}

TileAllocation TileAllocator::solve(const Budget& budget) const {
    TileAllocation out;
    solve_into(budget, out);
    return out;
}

ItemTable matrix_items(const TileProblem& problem) {
    const ItemTable tiles = tile_classes(problem);  // validates
    const std::size_t W = problem.widths.size();
    ItemTable t;
    t.widths = problem.widths;
    t.S.assign(problem.matrices.size() * W, 0.0);
    std::size_t tile = 0;
    for (std::size_t mi = 0; mi < problem.matrices.size(); ++mi) {
        const MatrixSpec& m = problem.matrices[mi];
        ItemClass cl;
        std::tie(cl.lo, cl.hi) = allowed_range(m, problem.widths);
        cl.cost_bits.assign(W, 0);
        std::vector<long double> s(W, 0.0L);
        for (std::int64_t i = 0; i < m.tile_count(); ++i, ++tile) {
            const ItemClass& tc = tiles.classes[tiles.item_class[tile]];
            for (std::size_t k = 0; k < W; ++k) {
                const std::size_t kk = fixed_candidate(tc, cl, k);
                cl.cost_bits[k] += tc.cost_bits[kk];
                s[k] += problem.S[tile * W + kk];
            }
        }
        for (std::size_t k = 0; k < W; ++k) t.S[mi * W + k] = double(s[k]);
        t.item_class.push_back(std::uint32_t(t.classes.size()));
        t.classes.push_back(std::move(cl));
    }
    return t;
}

LayerAllocator::LayerAllocator(const TileProblem& problem) : tile_pins_(problem.tile_pins) {
    const ItemTable items = matrix_items(problem);
    ladder_ = Ladder::build(items.view());
    for (const MatrixSpec& m : problem.matrices) tiles_per_matrix_.push_back(m.tile_count());
    quantized_weights_ = problem.quantized_weights();
    overhead_bytes_ = problem.overhead_bytes;
}

TileAllocation LayerAllocator::solve(const Budget& budget) const {
    TileAllocation out;
    out.method = "layer";
    out.budget_bits = budget_to_bits(budget, quantized_weights_, overhead_bytes_);
    require_feasible(budget, out.budget_bits, ladder_.min_bits(), quantized_weights_, overhead_bytes_,
                     "the quantized matrices");
    const std::size_t p = ladder_.prefix_for(out.budget_bits, "the quantized matrices");
    std::vector<std::uint8_t> per_matrix(ladder_.items());
    ladder_.write_widths(p, per_matrix.data());
    for (std::size_t mi = 0; mi < per_matrix.size(); ++mi)
        out.widths.insert(out.widths.end(), std::size_t(tiles_per_matrix_[mi]), per_matrix[mi]);
    apply_tile_pins(tile_pins_, out.widths);
    fill_sizes(out, ladder_.bits_at(p), quantized_weights_, overhead_bytes_);
    out.predicted_loss = ladder_.loss_at(p);
    out.prefix = p;
    out.ladder_size = ladder_.size();
    return out;
}

}  // namespace scalebits
