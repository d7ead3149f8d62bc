#include "core/runtime/attention.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

namespace scalebits::runtime {

namespace {

// e^x for x <= 0 (scores minus their maximum) in operations the compiler vectorizes: x = n ln2 + r
// with |r| <= ln2 / 2, e^r by its Taylor series to r^6 (relative error below 1.2e-7, float's own
// rounding), 2^n assembled in the exponent bits. Below -87 the result is flushed to 0 (e^-87 is
// 1.6e-38, under any weight a softmax could notice next to its maximum's 1).
inline float exp_nonpositive(float x) {
    constexpr float kLog2e = 1.44269504088896341f;
    // ln 2 in two parts, the first with few bits so that n * kLn2Hi is exact for |n| < 2^12.
    constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
    const bool tiny = x < -87.0f;
    x = std::max(x, -87.0f);
    // n = round(x log2 e) by the 1.5 * 2^23 trick (adds only, where floor would stay scalar).
    constexpr float kRound = 12582912.0f;
    const float n = (x * kLog2e + kRound) - kRound;
    const float r = (x - n * kLn2Hi) - n * kLn2Lo;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const float two_n = std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);
    return tiny ? 0.0f : p * two_n;
}

}  // namespace

// Built for AVX-512, AVX2 and any x86-64 (core is compiled for the baseline): the loops below are
// written so that the compiler keeps a block of scores (or of output columns) in vector registers.
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void attend(const float* q, const HeadCache& c,
                                                                                 std::int64_t lo, std::int64_t pos,
                                                                                 float scale, float* s, float* out) {
    const std::int64_t hd = c.hd;
    // Scores, a block of kScoreBlock positions at a time: for each dimension i, the block's keys are
    // contiguous (kt row i), so every step is one broadcast and kScoreBlock / 8 (or / 16) FMAs.
    for (std::int64_t j0 = lo - lo % kScoreBlock; j0 <= pos; j0 += kScoreBlock) {
        float acc[kScoreBlock] = {};
        for (std::int64_t i = 0; i < hd; ++i) {
            const float qi = q[i] * scale;
            const float* k = c.kt + i * c.stride + j0;
            for (std::int64_t jj = 0; jj < kScoreBlock; ++jj) acc[jj] += qi * k[jj];
        }
        std::copy(acc, acc + kScoreBlock, s + j0);
    }
    // The maximum and the sum over 16 interleaved partials: a single running float max or sum is an
    // ordered chain the compiler may not turn into vectors, and it kept the exponentials scalar.
    float part[16];
    std::fill(part, part + 16, -std::numeric_limits<float>::infinity());
    std::int64_t j = lo;
    for (; j + 16 <= pos + 1; j += 16)
        for (int l = 0; l < 16; ++l) part[l] = std::max(part[l], s[j + l]);
    float mx = *std::max_element(part, part + 16);
    for (; j <= pos; ++j) mx = std::max(mx, s[j]);
    for (j = lo; j <= pos; ++j) s[j] = exp_nonpositive(s[j] - mx);
    std::fill(part, part + 16, 0.0f);
    for (j = lo; j + 16 <= pos + 1; j += 16)
        for (int l = 0; l < 16; ++l) part[l] += s[j + l];
    float sum = 0.0f;
    for (; j <= pos; ++j) sum += s[j];
    for (const float p : part) sum += p;
    // The weighted sum of values 32 columns at a time in a local block kept in registers (summed into
    // out directly, every step was a store and a reload of the same vectors).
    const float inv = 1.0f / sum;
    auto block = [&](std::int64_t i0, auto w) {
        float acc[32] = {};
        for (std::int64_t j = lo; j <= pos; ++j) {
            const float p = s[j] * inv;
            const float* v = c.v + j * hd + i0;
            for (std::int64_t i = 0; i < w; ++i) acc[i] += p * v[i];
        }
        std::copy(acc, acc + w, out + i0);
    };
    std::int64_t i0 = 0;
    for (; i0 + 32 <= hd; i0 += 32) block(i0, std::integral_constant<std::int64_t, 32>{});
    if (i0 < hd) block(i0, hd - i0);
}

void attend_reference(const float* q, const HeadCache& c, std::int64_t lo, std::int64_t pos, float scale, float* out) {
    const std::int64_t hd = c.hd;
    std::vector<double> s(static_cast<std::size_t>(pos - lo + 1));
    double mx = -std::numeric_limits<double>::infinity();
    for (std::int64_t j = lo; j <= pos; ++j) {
        double d = 0.0;
        for (std::int64_t i = 0; i < hd; ++i) d += static_cast<double>(q[i]) * c.kt[i * c.stride + j];
        s[static_cast<std::size_t>(j - lo)] = d * scale;
        mx = std::max(mx, d * scale);
    }
    double sum = 0.0;
    for (double& e : s) sum += (e = std::exp(e - mx));
    for (std::int64_t i = 0; i < hd; ++i) {
        double o = 0.0;
        for (std::int64_t j = lo; j <= pos; ++j) o += s[static_cast<std::size_t>(j - lo)] * c.v[j * hd + i];
        out[i] = static_cast<float>(o / sum);
    }
}

}  // namespace scalebits::runtime
