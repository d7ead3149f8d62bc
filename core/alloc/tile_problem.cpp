#include "core/alloc/tile_problem.h"

#include "core/util/error.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace scalebits {

std::int64_t TileProblem::tile_count() const {
    std::int64_t n = 0;
    for (const MatrixSpec& m : matrices) n += m.tile_count();
    return n;
}

std::int64_t TileProblem::quantized_weights() const {
    std::int64_t n = 0;
    for (const MatrixSpec& m : matrices) n += m.weights();
    return n;
}

void TileProblem::validate() const {
    if (widths.empty() || widths.size() > 8) throw InputError("between 1 and 8 candidate widths are needed");
    for (std::size_t k = 0; k < widths.size(); ++k) {
        if (!is_tile_width(widths[k]))
            throw InputError("candidate width " + std::to_string(widths[k]) + " is outside 2..8 (or 16: kept at fp16)");
        if (k > 0 && widths[k] <= widths[k - 1]) throw InputError("candidate widths must be strictly ascending");
    }
    validate_matrices(matrices);
    const std::int64_t expected = tile_count() * std::int64_t(widths.size());
    if (std::int64_t(S.size()) != expected)
        throw InputError("sensitivity table holds " + std::to_string(S.size()) + " values, expected " +
                         std::to_string(expected) + " (tiles x widths)");
    if (overhead_bytes < 0) throw InputError("negative fixed overhead");
    validate_tile_pins(*this, tile_pins);
}

void validate_tile_pins(const TileProblem& problem, const std::vector<TilePin>& pins) {
    const std::int64_t tiles = problem.tile_count();
    for (std::size_t i = 0; i < pins.size(); ++i) {
        const TilePin& p = pins[i];
        if (p.tile < 0 || p.tile >= tiles)
            throw InputError("tile pin " + std::to_string(p.tile) + " is outside the " + std::to_string(tiles) + " tiles");
        if (i > 0 && p.tile <= pins[i - 1].tile) throw InputError("tile pins must be in ascending tile order, one a tile");
        if (std::find(problem.widths.begin(), problem.widths.end(), p.bits) == problem.widths.end())
            throw InputError("tile " + std::to_string(p.tile) + " is pinned to " + std::to_string(p.bits) +
                             " bits, which is not one of the candidate widths");
    }
}

std::pair<int, int> allowed_range(const MatrixSpec& m, const std::vector<int>& widths) {
    const int W = int(widths.size());
    if (m.pinned_bits != 0) {
        for (int k = 0; k < W; ++k)
            if (widths[k] == m.pinned_bits) return {k, k};
        throw InputError("matrix '" + m.name + "' is pinned to " + std::to_string(m.pinned_bits) +
                         " bits, which is not one of the candidate widths");
    }
    int lo = 0, hi = W - 1;
    while (lo < W && m.min_bits != 0 && widths[lo] < m.min_bits) ++lo;
    while (hi >= 0 && m.max_bits != 0 && widths[hi] > m.max_bits) --hi;
    if (lo > hi)
        throw InputError("matrix '" + m.name + "': no candidate width lies between its minimum " +
                         std::to_string(m.min_bits) + " and maximum " + std::to_string(m.max_bits) + " bits");
    return {lo, hi};
}

ItemTable tile_classes(const TileProblem& problem) { return tile_classes(problem, problem.tile_pins); }

ItemTable tile_classes(const TileProblem& problem, const std::vector<TilePin>& pins) {
    problem.validate();
    validate_tile_pins(problem, pins);
    ItemTable t;
    t.widths = problem.widths;
    t.item_class.reserve(std::size_t(problem.tile_count()));
    // Key: tile height, width, group, allowed range. Most tiles of a model share a handful of keys.
    std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t, int, int>, std::uint32_t> ids;
    auto pin = pins.begin();
    std::int64_t tile = 0;
    for (const MatrixSpec& m : problem.matrices) {
        const auto [m_lo, m_hi] = allowed_range(m, problem.widths);
        const std::int64_t n = m.tile_count();
        for (std::int64_t i = 0; i < n; ++i, ++tile) {
            int lo = m_lo, hi = m_hi;
            if (pin != pins.end() && pin->tile == tile) {
                lo = hi = int(std::find(problem.widths.begin(), problem.widths.end(), pin->bits) - problem.widths.begin());
                ++pin;
            }
            const auto key = std::make_tuple(m.tile_height(i), m.tile_width(i), m.group(), lo, hi);
            auto it = ids.find(key);
            if (it == ids.end()) {
                ItemClass cl;
                cl.lo = lo;
                cl.hi = hi;
                for (int b : problem.widths)
                    cl.cost_bits.push_back(8 * tile_bytes_with_header(std::get<0>(key), std::get<1>(key), m.group(), b));
                it = ids.emplace(key, std::uint32_t(t.classes.size())).first;
                t.classes.push_back(std::move(cl));
            }
            t.item_class.push_back(it->second);
        }
    }
    return t;
}

void apply_tile_pins(const std::vector<TilePin>& pins, std::vector<std::uint8_t>& tile_widths) {
    for (const TilePin& p : pins)
        if (std::size_t(p.tile) < tile_widths.size()) tile_widths[std::size_t(p.tile)] = std::uint8_t(p.bits);
}

std::vector<std::array<std::int64_t, kWidthSlots>> weights_per_width(const std::vector<MatrixSpec>& matrices,
                                                                     const std::vector<std::uint8_t>& tile_widths) {
    std::vector<std::array<std::int64_t, kWidthSlots>> out(matrices.size());
    std::size_t next = 0;
    for (std::size_t mi = 0; mi < matrices.size(); ++mi) {
        const MatrixSpec& m = matrices[mi];
        out[mi].fill(0);
        for (std::int64_t t = 0; t < m.tile_count(); ++t, ++next) {
            if (next >= tile_widths.size()) throw InputError("histogram: fewer tile widths than tiles");
            const int b = tile_widths[next];
            if (!is_tile_width(b)) throw InputError("histogram: width " + std::to_string(b) + " is not a tile width");
            out[mi][std::size_t(b)] += m.tile_height(t) * m.tile_width(t);
        }
    }
    return out;
}

double predicted_loss(const TileProblem& problem, const std::vector<std::uint8_t>& tile_widths) {
    const std::size_t W = problem.widths.size();
    if (tile_widths.size() * W != problem.S.size()) throw InputError("predicted loss: widths do not match the tiles");
    int index_of[kWidthSlots];
    std::fill(std::begin(index_of), std::end(index_of), -1);
    for (std::size_t k = 0; k < W; ++k) index_of[problem.widths[k]] = int(k);
    long double sum = 0;
    for (std::size_t t = 0; t < tile_widths.size(); ++t) {
        const int b = tile_widths[t];
        if (b >= kWidthSlots || index_of[b] < 0) throw InputError("predicted loss: width " + std::to_string(b) + " is not a candidate");
        sum += problem.S[t * W + std::size_t(index_of[b])];
    }
    return double(sum);
}

}  // namespace scalebits
