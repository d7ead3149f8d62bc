#pragma once
// The generic input of the ladder: n items (tiles, whole matrices or row-groups), each choosing one of
// W candidate widths. Items share "classes": a class holds the cost of each candidate (in bits) and the
// allowed candidate range, so millions of equal-shape tiles cost one class, not one row each.
// S holds the predicted loss increase per item and candidate, item-major: S[item * W + k].
#include <cstdint>
#include <span>
#include <vector>

namespace scalebits {

struct ItemClass {
    std::vector<std::int64_t> cost_bits;  // per candidate, nondecreasing in the candidate index
    int lo = 0;                           // allowed candidates lo..hi (inclusive)
    int hi = 0;
};

// Non-owning view: the ladder reads it once while it is built.
struct ItemView {
    std::span<const int> widths;              // candidate widths in bits, ascending
    std::span<const ItemClass> classes;
    std::span<const std::uint32_t> item_class;  // class of each item
    std::span<const double> S;                // item_class.size() * widths.size() values
};

// Owning version for tables the allocator derives itself (matrix-level and group-level problems).
struct ItemTable {
    std::vector<int> widths;
    std::vector<ItemClass> classes;
    std::vector<std::uint32_t> item_class;
    std::vector<double> S;
    ItemView view() const { return {widths, classes, item_class, S}; }
};

}  // namespace scalebits
