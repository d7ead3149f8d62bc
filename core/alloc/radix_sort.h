#pragma once
// Stable LSD radix sort of (64-bit key, 32-bit payload) pairs by ascending key. The ladder sorts
// millions of upgrade slopes; a comparison sort of 12 million entries takes about as long as the whole
// precompute budget, a radix sort a fraction of it, and stability gives the deterministic tie order
// (generation order) for free.
#include <cstdint>
#include <vector>

namespace scalebits {

struct KeyIndex {
    std::uint64_t key;
    std::uint64_t index;  // payload carried along (an index or packed data)
};

// Sorts `data` in place by key (stable). Uses a scratch buffer of the same size.
void radix_sort_stable(std::vector<KeyIndex>& data);

}  // namespace scalebits
