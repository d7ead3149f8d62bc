// The columns of a tile that the 128-column chunk kernels do not cover, with AVX2 (this file alone is
// built with -mavx2 -mfma -mf16c; the driver calls it after __builtin_cpu_supports says so):
//  - the tail of a tile not a multiple of 128 wide (SmolLM2's K = 576 = 4 x 128 + 64 puts a ninth of
//    its weights there, lm_head included): its codes are one LSB-first bitstream per row.
//    - Where int16_tail_fits (the tail a multiple of 8, groups of multiples of 16), a row's tail
//      starts on a byte, and 16 codes are 2b bytes: one vpshufb puts each code's two bytes in a
//      16-bit lane, one vpmullw by 2^(16 - b - shift) moves the code to the top of its lane and one
//      vpsrlw brings it down, clean, for vpmaddwd against the tail's int16 activations (rounded like
//      an int16 chunk). That is 4 instructions per 16 weights where the float path below took ~20;
//      it made the 64-column tail of a 1536 x 576 matrix cost as much as its four chunks.
//    - Otherwise the next 8 codes (8b <= 64 bits) are one 64-bit window, shifted four ways twice
//      (vpsrlvq) into 8 lanes and converted to 8 floats for one FMA with the natural-order
//      activations. (Not pdep: it is microcoded and slow on AMD before Zen 3.)
//    Per group the sum is multiplied by the group's scale, as in the reference;
//  - a tile kept at fp16 (width kDenseBits): F16C converts 8 halves per instruction.
// Both add to the 8 accumulator lanes of (row, batch item), which the driver sums once per output.
#include "cpu_gemm.h"

#include "scalebits/kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

namespace scalebits::kernels::cpu {

namespace {

// Codes 0..7 of a 64-bit window of b-bit codes, as 8 floats in order.
inline __m256 eight_codes(std::uint64_t w, __m256i shift_lo, __m256i shift_hi, __m256i mask) {
    const __m256i v = _mm256_set1_epi64x(static_cast<long long>(w));
    const __m256i lo = _mm256_srlv_epi64(v, shift_lo);  // codes 0..3 in the low halves of 64-bit lanes
    const __m256i hi = _mm256_srlv_epi64(v, shift_hi);  // codes 4..7
    // 32-bit lanes c0 c4 c1 c5 c2 c6 c3 c7, then in order.
    const __m256i mixed = _mm256_blend_epi32(lo, _mm256_slli_epi64(hi, 32), 0xAA);
    const __m256i ordered = _mm256_permutevar8x32_epi32(mixed, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
    return _mm256_cvtepi32_ps(_mm256_and_si256(ordered, mask));
}

// The decode of 16 (or, in the low 128-bit lane, 8) consecutive b-bit codes that start on a byte
// into 16-bit lanes (see the top of the file), for one width.
struct Int16TailDecode {
    __m256i shuffle, multiplier;
    int down;  // 16 - b
    explicit Int16TailDecode(int b) : down(16 - b) {
        alignas(32) std::int8_t sh[32];
        alignas(32) std::int16_t mul[16];
        for (int k = 0; k < 16; ++k) {
            // Code k's bits start at bit k * b: in byte k * b / 8, at shift (k * b) % 8, and reach at
            // most into the next byte (shift + b <= 7 + 7 < 16; 2b <= 16 bytes hold all 16 codes).
            // Each 128-bit lane of vpshufb indexes its own copy of the 16 source bytes.
            const int byte = k * b / 8, shift = k * b % 8;
            sh[2 * k] = static_cast<std::int8_t>(byte);
            sh[2 * k + 1] = static_cast<std::int8_t>(byte + 1);
            mul[k] = static_cast<std::int16_t>(1 << (16 - b - shift));
        }
        shuffle = _mm256_load_si256(reinterpret_cast<const __m256i*>(sh));
        multiplier = _mm256_load_si256(reinterpret_cast<const __m256i*>(mul));
    }
    // 16 codes from src (2b bytes; the 16-byte load may reach past them, never past the tile).
    __m256i sixteen(const std::uint8_t* src) const {
        const __m256i bytes = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
        return _mm256_srli_epi16(_mm256_mullo_epi16(_mm256_shuffle_epi8(bytes, shuffle), multiplier), down);
    }
    // 8 codes (b bytes) in the low lane, zeros in the high one.
    __m256i eight(const std::uint8_t* src) const {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
        const __m128i lo = _mm_srli_epi16(_mm_mullo_epi16(_mm_shuffle_epi8(bytes, _mm256_castsi256_si128(shuffle)),
                                                          _mm256_castsi256_si128(multiplier)),
                                          down);
        return _mm256_zextsi128_si256(lo);
    }
};

// A tail that int16_tail_fits: integer products against the int16 tail activations. FULL steps of
// 16 columns and, if HALF, one of 8: compile-time counts keep a row's codes in registers.
// ONE_GROUP: the whole tail is in one group (SmolLM2's 64-column tails with groups of 64 or 128),
// which leaves the loop over groups out.
template <std::size_t FULL, bool HALF, bool ONE_GROUP>
void int16_tail_terms(const TileArgs& a) {
    constexpr std::size_t steps = FULL + (HALF ? 1 : 0);
    // Fields copied to locals: the stores into acc could alias them, which would make the compiler
    // reload them in every row.
    const fmt::TileGeom g = a.geom;
    const std::size_t c0 = g.nc() * 128, ub = static_cast<std::size_t>(g.b), r = g.r;
    const std::uint8_t* scales = a.tile + packed_tile_sections(g.r, g.c, g.g, g.b).payload;
    const std::uint8_t* codes = a.tile + g.tail_start();
    const std::size_t row_bytes = (16 * FULL + (HALF ? 8 : 0)) * ub / 8;
    const std::size_t batch = static_cast<std::size_t>(a.batch), x_stride = a.x_stride;
    const std::size_t scale_stride = a.tail_xscale_stride;
    const std::int16_t* const xq0 = a.xq + c0;
    const float* const xscale = a.tail_xscale;
    float* const acc_base = a.acc;
    const Int16TailDecode dec(g.b);
    // The tail's groups, found once per tile (a division per row would cost as much as its
    // products): group k spans steps [step_end[k - 1], step_end[k]) (16 divides the group, so a step
    // never straddles two).
    std::size_t group_index[steps], step_end[steps], groups = 0;
    for (std::size_t s = 0; s < steps;) {
        const std::size_t gi = (c0 + 16 * s) / g.g;
        s = std::min(steps, ((gi + 1) * g.g - c0 + 15) / 16);
        group_index[groups] = gi;
        step_end[groups++] = s;
    }
    for (std::size_t row = 0; row < r; ++row) {
        const std::uint8_t* src = codes + row * row_bytes;
        __m256i q[steps];  // the row's codes, 16 a register; a half step in the low lane only
        for (std::size_t s = 0; s < FULL; ++s) q[s] = dec.sixteen(src + 2 * ub * s);
        if constexpr (HALF) q[FULL] = dec.eight(src + 2 * ub * FULL);
        float* acc = acc_base + row * batch * kAccLanes;
        for (std::size_t bi = 0; bi < batch; ++bi) {
            const std::int16_t* xq = xq0 + bi * x_stride;
            __m256i p[steps];
            for (std::size_t s = 0; s < steps; ++s) {
                const __m256i x = s < FULL ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 16 * s))
                                           : _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xq + 16 * s)));
                p[s] = _mm256_madd_epi16(q[s], x);
            }
            const float xs = xscale[bi * scale_stride];
            // |sum of a group's steps| <= 8 steps * 2 * 255 * 32767 < 2^31.
            auto group_sum = [&](std::size_t k, std::size_t s0, std::size_t s1) {
                __m256i t = p[s0];
                for (std::size_t s = s0 + 1; s < s1 && s < steps; ++s) t = _mm256_add_epi32(t, p[s]);
                std::uint16_t h;
                std::memcpy(&h, scales + 2 * (group_index[k] * r + row), 2);
                return _mm256_mul_ps(_mm256_cvtepi32_ps(t), _mm256_set1_ps(_cvtsh_ss(h) * xs));
            };
            __m256 sum;
            if constexpr (ONE_GROUP) {
                sum = group_sum(0, 0, steps);
            } else {
                sum = group_sum(0, 0, step_end[0]);
                for (std::size_t k = 1; k < groups; ++k) sum = _mm256_add_ps(sum, group_sum(k, step_end[k - 1], step_end[k]));
            }
            float* lanes = acc + bi * kAccLanes;
            _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_loadu_ps(lanes), sum));
        }
    }
}

template <std::size_t FULL, bool HALF>
void int16_tail_terms(const TileArgs& a) {
    const std::size_t c0 = a.geom.nc() * 128;
    // One group when the tail's first and last columns share it.
    if (c0 / a.geom.g == (a.geom.c - 1) / a.geom.g)
        int16_tail_terms<FULL, HALF, true>(a);
    else
        int16_tail_terms<FULL, HALF, false>(a);
}

template <bool HALF>
void int16_tail_terms(const TileArgs& a, std::size_t full) {
    switch (full) {
        case 0: if constexpr (HALF) int16_tail_terms<0, HALF>(a); break;
        case 1: int16_tail_terms<1, HALF>(a); break;
        case 2: int16_tail_terms<2, HALF>(a); break;
        case 3: int16_tail_terms<3, HALF>(a); break;
        case 4: int16_tail_terms<4, HALF>(a); break;
        case 5: int16_tail_terms<5, HALF>(a); break;
        case 6: int16_tail_terms<6, HALF>(a); break;
        case 7: int16_tail_terms<7, HALF>(a); break;
        default: break;
    }
}

}  // namespace

void tail_terms_avx2(const TileArgs& a, const float* x_nat, std::size_t K) {
    const fmt::TileGeom& g = a.geom;
    const std::size_t nc = g.nc(), tail = g.tail();
    if (tail == 0) return;
    if (a.tail_xscale != nullptr && int16_tail_fits(tail, g.g)) {
        if (tail % 16 == 0)
            int16_tail_terms<false>(a, tail / 16);
        else
            int16_tail_terms<true>(a, tail / 16);
        return;
    }
    const std::uint8_t* scales = a.tile + packed_tile_sections(g.r, g.c, g.g, g.b).payload;
    const std::uint8_t* codes = a.tile + g.tail_start();
    const std::size_t ub = static_cast<std::size_t>(g.b), c0 = nc * 128;
    const std::uint64_t mask = (std::uint64_t{1} << ub) - 1;
    const long long b = g.b;
    const __m256i shift_lo = _mm256_setr_epi64x(0, b, 2 * b, 3 * b), shift_hi = _mm256_setr_epi64x(4 * b, 5 * b, 6 * b, 7 * b);
    const __m256i vmask = _mm256_set1_epi32(static_cast<int>(mask));
    alignas(32) float q[128];  // one row's tail codes as floats
    for (std::size_t row = 0; row < g.r; ++row) {
        // Decode the row's tail once for every batch item. An 8-byte load holds 8 codes plus the
        // start offset (8b + 7 <= 63 bits for b <= 7; for b = 8 the offset is 0); it may reach past
        // the payload into the tile's scale section (16 bytes or more), never past the tile.
        std::size_t p = row * tail * ub, i = 0;
        for (; i + 8 <= tail; i += 8, p += 8 * ub) {
            std::uint64_t w;
            std::memcpy(&w, codes + (p >> 3), 8);
            _mm256_store_ps(q + i, eight_codes(w >> (p & 7), shift_lo, shift_hi, vmask));
        }
        for (; i < tail; ++i, p += ub) {
            std::uint64_t w;
            std::memcpy(&w, codes + (p >> 3), 8);
            q[i] = static_cast<float>((w >> (p & 7)) & mask);
        }
        float* acc = a.acc + row * static_cast<std::size_t>(a.batch) * kAccLanes;
        for (std::size_t col0 = c0; col0 < g.c;) {
            const std::size_t gi = col0 / g.g, col1 = std::min(g.c, (gi + 1) * g.g);
            std::uint16_t h;
            std::memcpy(&h, scales + 2 * (gi * g.r + row), 2);
            const __m256 s = _mm256_set1_ps(_cvtsh_ss(h));
            for (int bi = 0; bi < a.batch; ++bi) {
                const float* xb = x_nat + static_cast<std::size_t>(bi) * K;
                // Four independent sums: one chain of FMAs would wait out each one's latency.
                __m256 d0 = _mm256_setzero_ps(), d1 = d0, d2 = d0, d3 = d0;
                std::size_t col = col0;
                for (; col + 32 <= col1; col += 32) {
                    d0 = _mm256_fmadd_ps(_mm256_load_ps(q + (col - c0)), _mm256_loadu_ps(xb + col), d0);
                    d1 = _mm256_fmadd_ps(_mm256_load_ps(q + (col - c0) + 8), _mm256_loadu_ps(xb + col + 8), d1);
                    d2 = _mm256_fmadd_ps(_mm256_load_ps(q + (col - c0) + 16), _mm256_loadu_ps(xb + col + 16), d2);
                    d3 = _mm256_fmadd_ps(_mm256_load_ps(q + (col - c0) + 24), _mm256_loadu_ps(xb + col + 24), d3);
                }
                for (; col + 8 <= col1; col += 8)
                    d0 = _mm256_fmadd_ps(_mm256_load_ps(q + (col - c0)), _mm256_loadu_ps(xb + col), d0);
                const __m256 dot = _mm256_add_ps(_mm256_add_ps(d0, d1), _mm256_add_ps(d2, d3));
                float rest = 0.0f;
                for (; col < col1; ++col) rest += q[col - c0] * xb[col];
                float* lanes = acc + bi * kAccLanes;
                __m256 sum = _mm256_mul_ps(s, dot);
                sum = _mm256_add_ps(sum, _mm256_setr_ps(rest * _cvtsh_ss(h), 0, 0, 0, 0, 0, 0, 0));
                _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_loadu_ps(lanes), sum));
            }
            col0 = col1;
        }
    }
}

void dense_tile_terms_avx2(const TileArgs& a, const float* x_nat, std::size_t K) {
    const fmt::TileGeom& g = a.geom;
    const std::uint8_t* w = a.tile;  // row-major halves: 2 * g.c bytes a row
    for (std::size_t row = 0; row < g.r; ++row, w += 2 * g.c) {
        float* acc = a.acc + row * static_cast<std::size_t>(a.batch) * kAccLanes;
        for (int b = 0; b < a.batch; ++b) {
            const float* xb = x_nat + static_cast<std::size_t>(b) * K;
            __m256 d0 = _mm256_setzero_ps(), d1 = d0;
            std::size_t col = 0;
            for (; col + 16 <= g.c; col += 16) {
                d0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * col))),
                                     _mm256_loadu_ps(xb + col), d0);
                d1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * col + 16))),
                                     _mm256_loadu_ps(xb + col + 8), d1);
            }
            float rest = 0.0f;
            for (; col < g.c; ++col) {
                std::uint16_t h;
                std::memcpy(&h, w + 2 * col, 2);
                rest += _cvtsh_ss(h) * xb[col];
            }
            float* lanes = acc + b * kAccLanes;
            const __m256 sum = _mm256_add_ps(_mm256_add_ps(d0, d1), _mm256_setr_ps(rest, 0, 0, 0, 0, 0, 0, 0));
            _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_loadu_ps(lanes), sum));
        }
    }
}

}  // namespace scalebits::kernels::cpu
