#pragma once
// One query head's attention over a layer's KV cache: the decode engine's inner loop (packed_decoder).
// Keys are cached transposed, so that the scores of consecutive positions are plain vector products
// (no horizontal sum per position), and the softmax's exponentials are computed in vectors; the
// scalar form (attend_reference) defines the result.
#include <cstdint>

namespace scalebits::runtime {

// Positions are scored in blocks of this many, starting at multiples of it: a cache's key rows must
// be readable (any finite values) up to the end of the block holding the last position.
inline constexpr std::int64_t kScoreBlock = 32;

// The cache of one KV head: kt[i * stride + j] is dimension i of the key at position j; v[j * hd + i]
// its value. stride is a multiple of kScoreBlock.
struct HeadCache {
    const float* kt = nullptr;
    const float* v = nullptr;
    std::int64_t stride = 0;
    std::int64_t hd = 0;
};

// out[0, hd) = sum over j in [lo, pos] of softmax_j(scale * q . k_j) v_j. s: scratch of at least
// `stride` floats (scores by absolute position).
void attend(const float* q, const HeadCache& c, std::int64_t lo, std::int64_t pos, float scale, float* s, float* out);

// The same in scalar double-precision loops with the library's exp: what attend is tested against.
void attend_reference(const float* q, const HeadCache& c, std::int64_t lo, std::int64_t pos, float scale, float* out);

}  // namespace scalebits::runtime
