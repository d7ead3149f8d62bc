#pragma once
// The plain reference next to the fast ladder: the textbook greedy run from scratch on the raw
// (cost, S) points, without hulls, sorting or prefix sums. Every item starts at its cheapest allowed
// candidate (lowest S among equally cheap ones); each step takes, over all items, the upgrade to any
// more expensive allowed candidate with the largest loss reduction per extra bit (ties: the farther
// candidate, then the lower item), and stops at the first best upgrade that does not fit. O(steps x
// items x widths): for tests only.
#include "core/alloc/item_table.h"

#include <cstdint>
#include <vector>

namespace scalebits {

struct GreedyResult {
    std::vector<std::uint8_t> index;  // chosen candidate per item
    std::int64_t bits = 0;
    double loss = 0.0;
    std::size_t steps = 0;
};

// Throws InputError when the base allocation does not fit.
GreedyResult reference_greedy(const ItemView& items, std::int64_t budget_bits);

}  // namespace scalebits
