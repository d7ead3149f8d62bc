#include "core/analysis/problem.h"

#include <algorithm>

#include "core/analysis/analysis_file.h"
#include "core/analysis/export_size.h"
#include "core/io/safetensors.h"
#include "core/util/error.h"

namespace scalebits::analysis {

namespace {
// The most specific constraint wins: exact name, then layer prefix, then kind suffix.
const WidthConstraint* find_constraint(const ProblemOptions& o, const std::string& name) {
    if (auto it = o.constraints.find(name); it != o.constraints.end()) return &it->second;
    const WidthConstraint* by_prefix = nullptr;
    const WidthConstraint* by_suffix = nullptr;
    for (const auto& [key, c] : o.constraints) {
        if (name.rfind(key, 0) == 0) by_prefix = &c;
        if (name.ends_with(key + ".weight") || name.ends_with(key))
            by_suffix = &c;
    }
    return by_prefix ? by_prefix : by_suffix;
}


MatrixSpec matrix_spec(const MatrixAnalysis& m, const ProblemOptions& options, bool kept_rung) {
    MatrixSpec s;
    s.name = m.name;
    s.grid = m.grid;
    if (const auto* c = find_constraint(options, m.name)) {
        s.min_bits = c->min_bits;
        s.max_bits = c->max_bits;
        s.pinned_bits = c->pinned_bits;
    }
    if (!is_vocab_kind(m.kind)) {
        // Only the vocabulary matrices can keep tiles at fp16.
        if (s.pinned_bits == kKeptBits || s.min_bits == kKeptBits)
            throw InputError(m.name + " is a linear layer: only the embedding and lm_head can be kept at 16 bits (fp16)");
        if (kept_rung) s.max_bits = s.max_bits != 0 ? std::min(s.max_bits, kMaxBits) : kMaxBits;
    }
    return s;
}
}  // namespace

bool allocates_vocab(const Analysis& a, const ProblemOptions& options) {
    if (!options.whole_file) return false;
    for (const auto& m : a.matrices)
        if (is_vocab_kind(m.kind)) return true;
    return false;
}

TileProblem make_tile_problem(const Analysis& a, const ProblemOptions& options) {
    const bool vocab = allocates_vocab(a, options);
    TileProblem p;
    p.widths = a.widths;
    if (vocab) p.widths.push_back(kKeptBits);  // S = 0: the fp16 rounding of a weight is far below any width's error
    p.overhead_bytes = exporting::export_overhead_bytes(a, vocab);
    const std::size_t nw = a.widths.size(), W = p.widths.size();
    std::size_t total = 0;
    for (const auto& m : a.matrices) total += static_cast<std::size_t>(m.tile_count()) * W;
    p.S.reserve(total);
    for (const auto& m : a.matrices) {
        if (is_vocab_kind(m.kind) && !vocab) continue;
        MatrixSpec s = matrix_spec(m, options, vocab);
        const auto& table = options.reordered ? m.cost_reordered : m.cost_original;
        if (table.size() != static_cast<std::size_t>(m.tile_count()) * nw)
            throw InputError(a.file, "the cost table of " + m.name + " does not match its tile grid");
        if (W == nw) {
            p.S.insert(p.S.end(), table.begin(), table.end());
        } else {
            // The kept rung: free of loss; for a linear layer out of reach (its max_bits is 8).
            for (std::int64_t t = 0; t < m.tile_count(); ++t) {
                p.S.insert(p.S.end(), table.begin() + t * static_cast<std::int64_t>(nw),
                           table.begin() + (t + 1) * static_cast<std::int64_t>(nw));
                p.S.push_back(0.0);
            }
        }
        p.matrices.push_back(std::move(s));
    }
    p.tile_pins = resolve_tile_pins(a, p, options);
    p.validate();
    return p;
}

std::vector<TilePin> resolve_tile_pins(const Analysis& a, const TileProblem& problem, const ProblemOptions& options) {
    std::vector<TilePin> out;
    std::int64_t first = 0;
    for (const MatrixSpec& s : problem.matrices) {
        if (const auto pins = options.tile_pins.find(s.name); pins != options.tile_pins.end()) {
            const auto m = std::find_if(a.matrices.begin(), a.matrices.end(), [&](const auto& x) { return x.name == s.name; });
            const bool vocab = m != a.matrices.end() && is_vocab_kind(m->kind);
            for (const auto& [tile, bits] : pins->second) {
                if (tile < 0 || tile >= s.tile_count())
                    throw InputError(s.name + ": tile " + std::to_string(tile) + " is outside its " +
                                     std::to_string(s.tile_count()) + " tiles");
                const bool candidate = std::find(problem.widths.begin(), problem.widths.end(), bits) != problem.widths.end();
                if (!candidate || (bits == kKeptBits && !vocab))
                    throw InputError(s.name + ": tile " + std::to_string(tile) + " cannot be pinned to " +
                                     std::to_string(bits) + " bits, which is not one of its candidate widths");
                out.push_back({first + tile, bits});
            }
        }
        first += s.tile_count();
    }
    for (const auto& [name, pins] : options.tile_pins) {
        const bool known =
            std::any_of(problem.matrices.begin(), problem.matrices.end(), [&](const MatrixSpec& s) { return s.name == name; });
        if (!known && !pins.empty())
            throw InputError("tile pins name " + name + ", which is not a matrix of this allocation");
    }
    return out;
}

GroupProblem make_group_problem(const Analysis& a, const ProblemOptions& options) {
    for (const auto& [name, pins] : options.tile_pins)
        if (!pins.empty())
            throw InputError("the per-group reference allocates row-groups, not tiles: it cannot keep the tile pins of " + name);
    if (a.file.empty()) throw InputError("the per-group tables live in the analysis file; save the analysis first");
    const io::SafetensorsFile file = io::read_safetensors(a.file);
    // The vocabulary matrices take part at widths 2..8 (per-group widths have no fp16 rung).
    const bool vocab = allocates_vocab(a, options);
    GroupProblem p;
    p.widths = a.widths;
    p.overhead_bytes = exporting::export_overhead_bytes(a, vocab);
    for (const auto& m : a.matrices) {
        if (is_vocab_kind(m.kind) && !vocab) continue;
        MatrixSpec s = matrix_spec(m, options, false);
        const std::string name = "cost.group." + m.name;
        const io::HostTensor* t = file.find(name);
        if (!t)
            throw InputError(a.file, "has no per-group cost table " + name +
                                         " (it was made by an older version; re-run analyze for the group method)");
        verify_checksum(file, *t, a.file);
        const std::int64_t expected = s.group_count() * static_cast<std::int64_t>(a.widths.size());
        const std::vector<float> v = t->to_float();
        if (static_cast<std::int64_t>(v.size()) != expected)
            throw InputError(a.file, name + " holds " + std::to_string(v.size()) + " values, expected " +
                                         std::to_string(expected));
        p.S.insert(p.S.end(), v.begin(), v.end());
        p.matrices.push_back(std::move(s));
    }
    return p;
}

}  // namespace scalebits::analysis
