// The activations of one 128-column chunk rounded to integers for the integer chunk kernels, in the
// order those kernels read them (built with -mavx2 -mfma -mf16c; called only where one of those
// kernels runs, and every one of them needs AVX2). Per call and item this is K values: in scalar
// code, with a library call per rounding, it took ~35 us at K = 4096, longer than the whole product
// of a 576 x 1536 matrix at 2 bits.
#include "cpu_gemm.h"

#include <immintrin.h>

#include <cstring>
#include <limits>

namespace scalebits::kernels::cpu {

namespace {

// How the chunk is rounded to integers in [-levels, levels]: q = round(x * inv), x ~ q * scale.
//  - A NaN or infinite activation gives a NaN scale and codes 0, so the outputs are NaN like the
//    reference's (a NaN cannot be converted to an integer).
//  - A chunk whose largest |x| is below 2^-64 counts as zero: levels / amax overflows to infinity
//    below amax = levels / FLT_MAX, and the kernels multiply the chunk's scale by a group's scale
//    (at least 2^-24) before the integer sum: above 2^-64 that product stays a normal float
//    (>= 2^-103), below it could be a subnormal with few significant bits. What is dropped is at
//    most 2^-64 * sum |w| per output.
struct ChunkRounding {
    float scale = 0.0f, inv = 0.0f;
    bool finite = true;
};

// n: a multiple of 8 (a whole chunk, or a tile's tail, see int16_tail_fits).
ChunkRounding chunk_rounding(const float* x, std::size_t n, float levels) {
    // The largest |x| and, apart from it, whether all are finite: vmaxps returns its second operand
    // when one is NaN, so a NaN would be stepped over.
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 fmax = _mm256_set1_ps(std::numeric_limits<float>::max());
    __m256 amax = _mm256_setzero_ps(), finite = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    for (std::size_t i = 0; i < n; i += 8) {
        const __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask);
        amax = _mm256_max_ps(amax, a);
        finite = _mm256_and_ps(finite, _mm256_cmp_ps(a, fmax, _CMP_LE_OQ));
    }
    if (_mm256_movemask_ps(finite) != 0xff) return {std::numeric_limits<float>::quiet_NaN(), 0.0f, false};
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    const float mx = _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
    if (mx < 0x1.0p-64f) return {0.0f, 0.0f, true};
    return {mx / levels, levels / mx, true};
}

// 8 activations rounded to the nearest integer (ties to even: vcvtps2dq in the default rounding
// mode), within [-levels, levels].
inline __m256i round8(const float* x, __m256 inv, __m256 levels) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), inv);
    return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, _mm256_sub_ps(_mm256_setzero_ps(), levels)), levels));
}

}  // namespace

void int16_chunk_activations(const float* x, float* scale_out, std::int16_t* out) {
    const ChunkRounding r = chunk_rounding(x, 128, 32767.0f);
    *scale_out = r.scale;
    if (!r.finite) {
        std::memset(out, 0, 128 * sizeof(std::int16_t));
        return;
    }
    const __m256 inv = _mm256_set1_ps(r.inv), levels = _mm256_set1_ps(32767.0f);
    // Step s holds [slot s | slot s + 8] (permuted_position): columns 8s.. and 64 + 8s...
    for (int s = 0; s < 8; ++s) {
        const __m256i lo = round8(x + 8 * s, inv, levels), hi = round8(x + 64 + 8 * s, inv, levels);
        // vpackssdw packs within 128-bit lanes: [lo 0-3, hi 0-3 | lo 4-7, hi 4-7], then in order.
        const __m256i q = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 16 * s), q);
    }
}

void int16_tail_activations(const float* x, std::size_t n, float* scale_out, std::int16_t* out) {
    const ChunkRounding r = chunk_rounding(x, n, 32767.0f);
    *scale_out = r.scale;
    if (!r.finite) {
        std::memset(out, 0, n * sizeof(std::int16_t));
        return;
    }
    const __m256 inv = _mm256_set1_ps(r.inv), levels = _mm256_set1_ps(32767.0f);
    for (std::size_t i = 0; i < n; i += 8) {
        // vpackssdw packs within 128-bit lanes: the low lane holds the 8 values in order.
        const __m256i q = _mm256_packs_epi32(round8(x + i, inv, levels), _mm256_setzero_si256());
        const __m128i in_order = _mm_unpacklo_epi64(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), in_order);
    }
}

void byte_chunk_activations(const float* x, float* scale_out, std::int8_t* out) {
    const ChunkRounding r = chunk_rounding(x, 128, 16383.0f);
    *scale_out = r.scale;
    if (!r.finite) {
        std::memset(out, 0, 256);
        return;
    }
    const __m256 inv = _mm256_set1_ps(r.inv), levels = _mm256_set1_ps(16383.0f);
    // Step s, byte 16H + 2L + h: column 64H + 8s + 32h + L (the byte order of gemm_vnni.cpp).
    for (int s = 0; s < 4; ++s) {
        __m256i w[2];
        for (int H = 0; H < 2; ++H) {
            const __m256i h0 = round8(x + 64 * H + 8 * s, inv, levels), h1 = round8(x + 64 * H + 8 * s + 32, inv, levels);
            // 16-bit words 2L + h: the low word of each int32 from h0, the high one from h1.
            w[H] = _mm256_blend_epi16(h0, _mm256_slli_epi32(h1, 16), 0xAA);
        }
        // x = 128 * xh + xl: xh = floor(x / 128) in -128..127, xl in 0..127. vpacksswb packs within
        // 128-bit lanes: [H0 0-7 | H1 0-7 | H0 8-15 | H1 8-15], then in order.
        const __m256i xh = _mm256_packs_epi16(_mm256_srai_epi16(w[0], 7), _mm256_srai_epi16(w[1], 7));
        const __m256i low7 = _mm256_set1_epi16(127);
        const __m256i xl = _mm256_packs_epi16(_mm256_and_si256(w[0], low7), _mm256_and_si256(w[1], low7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64 * s), _mm256_permute4x64_epi64(xh, 0xD8));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64 * s + 32), _mm256_permute4x64_epi64(xl, 0xD8));
    }
}

void byte_tail_activations(const float* x, std::size_t n, float* scale_out, std::int8_t* out) {
    const ChunkRounding r = chunk_rounding(x, n, 16383.0f);
    *scale_out = r.scale;
    if (!r.finite) {
        std::memset(out, 0, 2 * n);
        return;
    }
    const __m256 inv = _mm256_set1_ps(r.inv), levels = _mm256_set1_ps(16383.0f);
    // At most 64 columns once per call: split as in byte_chunk_activations, stored lane by lane.
    for (std::size_t i = 0; i < n; i += 8) {
        alignas(32) std::int32_t v[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(v), round8(x + i, inv, levels));
        for (std::size_t l = 0; l < 8; ++l) {
            out[i + l] = static_cast<std::int8_t>(v[l] >> 7);  // floor(x / 128): arithmetic shift
            out[n + i + l] = static_cast<std::int8_t>(v[l] & 127);
        }
    }
}

}  // namespace scalebits::kernels::cpu
