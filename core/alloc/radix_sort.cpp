#include "core/alloc/radix_sort.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>

namespace scalebits {

namespace {

constexpr int kDigitBits = 11;
constexpr std::size_t kBuckets = std::size_t{1} << kDigitBits;
// Radix passes cover the top kRadixBits bits that vary between keys; keys that agree on those but
// not below are then put in order by a comparison sort of each (short, rare) run. Four passes instead
// of six: the sort is most of the ladder's precompute.
constexpr int kPasses = 4;
constexpr int kRadixBits = kPasses * kDigitBits;

}  // namespace

void radix_sort_stable(std::vector<KeyIndex>& data) {
    const std::size_t n = data.size();
    if (n < 2) return;

    // Bits above the highest one that differs between any two keys cannot change the order.
    std::uint64_t differ = 0;
    const std::uint64_t first = data.front().key;
    for (const KeyIndex& e : data) differ |= e.key ^ first;
    if (differ == 0) return;  // all keys equal: a stable sort changes nothing
    const int top = 64 - std::countl_zero(differ);  // bits [0, top) matter
    const int low = std::max(0, top - kRadixBits);  // radix passes cover [low, top)

    // All histograms in one read of the data.
    std::vector<std::array<std::size_t, kBuckets>> hist(kPasses);
    for (auto& h : hist) h.fill(0);
    for (const KeyIndex& e : data) {
        const std::uint64_t k = e.key >> low;
        for (int p = 0; p < kPasses; ++p) ++hist[p][(k >> (p * kDigitBits)) & (kBuckets - 1)];
    }

    std::vector<KeyIndex> scratch(n);
    std::vector<KeyIndex>* src = &data;
    std::vector<KeyIndex>* dst = &scratch;
    for (int p = 0; p < kPasses; ++p) {
        auto& h = hist[p];
        // A digit that is the same for every key leaves the order unchanged: skip the pass.
        if (std::find(h.begin(), h.end(), n) != h.end()) continue;
        std::size_t sum = 0;
        for (std::size_t b = 0; b < kBuckets; ++b) {
            const std::size_t c = h[b];
            h[b] = sum;
            sum += c;
        }
        const int shift = low + p * kDigitBits;
        KeyIndex* out = dst->data();
        for (const KeyIndex& e : *src) out[h[(e.key >> shift) & (kBuckets - 1)]++] = e;
        std::swap(src, dst);
    }
    if (src != &data) data.swap(*src);

    // Runs that tie on the radix bits: order them by the full key, stably (equal full keys keep the
    // input order the radix passes preserved).
    if (low == 0) return;
    auto by_key = [](const KeyIndex& a, const KeyIndex& b) { return a.key < b.key; };
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i + 1;
        const std::uint64_t head = data[i].key >> low;
        while (j < n && (data[j].key >> low) == head) ++j;
        if (j - i > 1) std::stable_sort(data.begin() + std::ptrdiff_t(i), data.begin() + std::ptrdiff_t(j), by_key);
        i = j;
    }
}

}  // namespace scalebits
