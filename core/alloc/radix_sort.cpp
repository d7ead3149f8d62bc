#include "core/alloc/radix_sort.h"

#include <array>
#include <cstddef>

namespace scalebits {

void radix_sort_stable(std::vector<KeyIndex>& data) {
    constexpr int kDigitBits = 11;
    constexpr int kPasses = (64 + kDigitBits - 1) / kDigitBits;  // 6 passes cover 66 bits
    constexpr std::size_t kBuckets = std::size_t{1} << kDigitBits;
    const std::size_t n = data.size();
    if (n < 2) return;

    // All histograms in one read of the data.
    std::vector<std::array<std::size_t, kBuckets>> hist(kPasses);
    for (auto& h : hist) h.fill(0);
    for (const KeyIndex& e : data)
        for (int p = 0; p < kPasses; ++p) ++hist[p][(e.key >> (p * kDigitBits)) & (kBuckets - 1)];

    std::vector<KeyIndex> scratch(n);
    std::vector<KeyIndex>* src = &data;
    std::vector<KeyIndex>* dst = &scratch;
    for (int p = 0; p < kPasses; ++p) {
        auto& h = hist[p];
        // A digit that is the same for every key (e.g. the sign and high exponent bits of slopes)
        // leaves the order unchanged: skip the pass.
        bool trivial = false;
        for (std::size_t b = 0; b < kBuckets; ++b)
            if (h[b] == n) { trivial = true; break; }
        if (trivial) continue;
        std::size_t sum = 0;
        for (std::size_t b = 0; b < kBuckets; ++b) {
            const std::size_t c = h[b];
            h[b] = sum;
            sum += c;
        }
        const int shift = p * kDigitBits;
        KeyIndex* out = dst->data();
        for (const KeyIndex& e : *src) out[h[(e.key >> shift) & (kBuckets - 1)]++] = e;
        std::swap(src, dst);
    }
    if (src != &data) data.swap(*src);
}

}  // namespace scalebits
