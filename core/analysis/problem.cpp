#include "core/analysis/problem.h"

#include "core/util/error.h"

namespace scalebits::analysis {

namespace {
bool ends_with(const std::string& s, const std::string& t) {
    return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

// The most specific constraint wins: exact name, then layer prefix, then kind suffix.
const WidthConstraint* find_constraint(const ProblemOptions& o, const std::string& name) {
    if (auto it = o.constraints.find(name); it != o.constraints.end()) return &it->second;
    const WidthConstraint* by_prefix = nullptr;
    const WidthConstraint* by_suffix = nullptr;
    for (const auto& [key, c] : o.constraints) {
        if (name.rfind(key, 0) == 0) by_prefix = &c;
        if (ends_with(name, key + ".weight") || ends_with(name, key))
            by_suffix = &c;
    }
    return by_prefix ? by_prefix : by_suffix;
}
}  // namespace

TileProblem make_tile_problem(const Analysis& a, const ProblemOptions& options) {
    TileProblem p;
    p.widths = a.widths;
    p.overhead_bytes = a.unquantized_bytes;
    const std::size_t nw = a.widths.size();
    std::size_t total = 0;
    for (const auto& m : a.matrices) total += static_cast<std::size_t>(m.tiles()) * nw;
    p.S.reserve(total);
    for (const auto& m : a.matrices) {
        MatrixSpec s;
        s.name = m.name;
        s.rows = m.rows;
        s.cols = m.cols;
        s.tile_rows = m.tile_rows;
        s.tile_cols = m.tile_cols;
        s.group = m.group;
        if (const auto* c = find_constraint(options, m.name)) {
            s.min_bits = c->min_bits;
            s.max_bits = c->max_bits;
            s.pinned_bits = c->pinned_bits;
        }
        const auto& table = options.reordered ? m.cost_reordered : m.cost_original;
        if (table.size() != static_cast<std::size_t>(m.tiles()) * nw)
            throw InputError(a.file, "the cost table of " + m.name + " does not match its tile grid");
        p.S.insert(p.S.end(), table.begin(), table.end());
        p.matrices.push_back(std::move(s));
    }
    p.validate();
    return p;
}

}  // namespace scalebits::analysis
