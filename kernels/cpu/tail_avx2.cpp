// The columns of a tile that the 128-column chunk kernels do not cover, with AVX2 (this file alone is
// built with -mavx2 -mfma -mf16c; the driver calls it after __builtin_cpu_supports says so):
//  - the tail of a tile not a multiple of 128 wide (SmolLM2's K = 576 = 4 x 128 + 64 puts a fifth of
//    its weights there): its codes are one LSB-first bitstream per row, so the next 8 codes (8b <= 64
//    bits) are one 64-bit window, shifted four ways twice (vpsrlvq) into 8 lanes and converted to 8
//    floats for one FMA with the natural-order activations. (Not pdep: it is microcoded and slow on
//    AMD before Zen 3.) Per group the float sum is multiplied by the group's scale, as in the reference;
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

}  // namespace

void tail_terms_avx2(const TileArgs& a, const float* x_nat, std::size_t K) {
    const fmt::TileGeom& g = a.geom;
    const std::size_t nc = g.nc(), tail = g.tail();
    if (tail == 0) return;
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
