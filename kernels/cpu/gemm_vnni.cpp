// AVX-512 VNNI chunk kernel: row pairs on 512-bit registers, an odd last row on 256-bit ones (built
// with AVX-512 flags like gemm_avx512vl.cpp; the driver calls it after __builtin_cpu_supports says
// so, for groups of 64 or whole chunks).
//
// Why a second kernel: the int16 kernel (gemm_avx2.cpp) turns 16 codes into 16-bit lanes per step
// and multiplies them with vpmaddwd, so decoding costs about as much as the memory traffic it
// feeds. Here one step decodes 32 codes into bytes and vpdpbusd multiplies them (unsigned bytes)
// with 32 signed-byte activations. Activations are rounded to 15 bits per chunk and split exactly
// as x = 128 * xh + xl (xh in -128..127, xl in 0..127), so two vpdpbusd per step give the exact
// integer sum s q x = 128 * sum q xh + sum q xl: half the decode work per weight, same precision
// class (2^-15 of the chunk's largest |x| instead of 2^-16).
// The decode (and the byte order it produces) is byte_decode.h's, shared with the AVX2 byte kernel.
#include "byte_decode.h"
#include "cpu_gemm.h"

#include "scalebits/kernels.h"

#include <immintrin.h>

// GCC 12's own _mm512_zext*/_mm512_inserti64x4 report their undefined upper halves (clang has no
// such warning group and would warn about the pragma).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <utility>

namespace scalebits::kernels::cpu {

namespace {

// Rows `row` and `row + 1`: their vectors v are adjacent, one 32-byte load [row a | row b].
template <int B>
inline void load_planes(const std::uint8_t* tile, std::size_t r, std::size_t j, std::size_t row, Planes<__m512i>& pl) {
    auto vec2 = [&](int v) {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + fmt::vector_offset(r, B, j, v, row)));
    };
    auto join = [](__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_zextsi256_si512(lo), hi, 1); };
    constexpr fmt::WidthLayout W = fmt::kWidthTable[B];
    [&]<int... I>(std::integer_sequence<int, I...>) {
        ([&] {
            constexpr fmt::Part p = W.parts[I];
            constexpr int fv = p.first_vector;
            __m512i raw[4];
            if constexpr (p.bits == 2) {
                raw[0] = join(vec2(fv), vec2(fv + 1));
            } else if constexpr (p.bits == 1) {
                const __m256i v = vec2(fv);
                raw[0] = join(v, _mm256_srli_epi16(v, 8));
            } else {
                raw[0] = join(vec2(fv), vec2(fv + 2));
                raw[1] = join(vec2(fv + 1), vec2(fv + 3));
            }
            rearrange<p.bits>(raw, pl.r[I]);
        }(), ...);
    }(std::make_integer_sequence<int, W.part_count>{});
}

// fp16 scales of up to 8 consecutive rows of one group. Masked where fewer than 8 rows are left, so
// the load never reads past the rows of the tile (a plain load otherwise: cheaper on AMD's Zen 4).
inline __m256 scales8(const std::uint8_t* scales, std::size_t gi, std::size_t r, std::size_t row0, unsigned n) {
    const std::uint8_t* p = scales + 2 * (gi * r + row0);
    if (n == 8) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_cvtph_ps(_mm_maskz_loadu_epi16(static_cast<__mmask8>((1u << n) - 1u), p));
}

template <int B, int NB>
void rows_block(const TileArgs& a, int b0) {
    // Fields copied to locals: the stores into acc could alias them, which would make the compiler
    // reload them in every row.
    const fmt::TileGeom g = a.geom;
    const std::size_t r = g.r, nc = g.nc(), batch = static_cast<std::size_t>(a.batch);
    const std::uint8_t* const tile = a.tile;
    float* const acc_base = a.acc;
    const std::uint8_t* scales = tile + packed_tile_sections(g.r, g.c, g.g, g.b).payload;
    constexpr auto parts = std::make_integer_sequence<int, fmt::kWidthTable[B].part_count>{};
    NextTilePrefetch prefetch(a, b0, 2);  // at each row pair
    for (std::size_t j = 0; j < nc; ++j) {
        // Groups of the chunk's two halves (g == 64: two groups; g a multiple of 128: one).
        const std::size_t glo = g.g == 64 ? 2 * j : 128 * j / g.g;
        const std::size_t ghi = g.g == 64 ? 2 * j + 1 : glo;
        const std::size_t chunk = (a.col0 + 128 * j) / 128;
        // Activations per batch item and step: 256-bit [H0 | H1] for one row, and 512-bit
        // [H0 | H0 | H1 | H1] for a row pair.
        const std::int8_t* xb[NB];
        __m256 xs[NB];
        __m512i xz[NB][4][2];
        for (int b = 0; b < NB; ++b) {
            xb[b] = a.x8 + static_cast<std::size_t>(b0 + b) * a.x8_stride + 256 * j;
            xs[b] = _mm256_set1_ps(a.x8scale[static_cast<std::size_t>(b0 + b) * a.xscale_stride + chunk]);
            for (int S = 0; S < 4; ++S)
                for (int h = 0; h < 2; ++h) {
                    const __m512i x = _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[b] + 64 * S + 32 * h)));
                    xz[b][S][h] = _mm512_shuffle_i64x2(x, x, 0x50);
                }
        }
        for (std::size_t row0 = 0; row0 < r; row0 += 8) {
            const unsigned n = static_cast<unsigned>(std::min<std::size_t>(8, r - row0));
            // Batch 1: the activation scale folded into the row scales once per 8 rows.
            const __m256 xs0 = NB == 1 ? xs[0] : _mm256_set1_ps(1.0f);
            const __m256 slo = _mm256_mul_ps(scales8(scales, glo, r, row0, n), xs0);
            const __m256 shi = glo == ghi ? slo : _mm256_mul_ps(scales8(scales, ghi, r, row0, n), xs0);
            const __m512 s16 = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_zextpd256_pd512(_mm256_castps_pd(slo)), _mm256_castps_pd(shi), 1));
            unsigned i = 0;
            // Row pairs on 512-bit registers. The scale vector is built in the order the products
            // are added: [row a H0 | row a H1 | row b H0 | row b H1].
            __m512i idx2 = _mm512_setr_epi32(0, 0, 0, 0, 8, 8, 8, 8, 1, 1, 1, 1, 9, 9, 9, 9);
            for (; i + 2 <= n; i += 2, idx2 = _mm512_add_epi32(idx2, _mm512_set1_epi32(2))) {
                const std::size_t row = row0 + i;
                prefetch.step();
                Planes<__m512i> pl;
                load_planes<B>(tile, r, j, row, pl);
                __m512i ah[NB], al[NB];
                for (int b = 0; b < NB; ++b) ah[b] = al[b] = _mm512_setzero_si512();
                auto step = [&]<int S>(std::integral_constant<int, S>) {
                    const __m512i q = decode_step<B, S>(pl, parts);
                    for (int b = 0; b < NB; ++b) {
                        ah[b] = _mm512_dpbusd_epi32(ah[b], q, xz[b][S][0]);
                        al[b] = _mm512_dpbusd_epi32(al[b], q, xz[b][S][1]);
                    }
                };
                [&]<int... S>(std::integer_sequence<int, S...>) {
                    (step(std::integral_constant<int, S>{}), ...);
                }(std::make_integer_sequence<int, 4>{});
                const __m512 sv = _mm512_permutexvar_ps(idx2, s16);
                for (int b = 0; b < NB; ++b) {
                    const __m512i t = _mm512_add_epi32(_mm512_slli_epi32(ah[b], 7), al[b]);
                    __m512 f = _mm512_cvtepi32_ps(t);
                    if constexpr (NB > 1) f = _mm512_mul_ps(f, _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(xs[b]))));
                    f = _mm512_shuffle_f32x4(f, f, 0xD8);  // lanes 0, 2, 1, 3: row a's, then row b's
                    float* av = acc_base + (row * batch + static_cast<std::size_t>(b0 + b)) * kAccLanes;
                    if (batch == 1) {  // rows a and b are adjacent
                        _mm512_storeu_ps(av, _mm512_fmadd_ps(f, sv, _mm512_loadu_ps(av)));
                    } else {
                        const __m512 p = _mm512_mul_ps(f, sv);
                        float* bv = av + batch * kAccLanes;
                        _mm256_storeu_ps(av, _mm256_add_ps(_mm512_castps512_ps256(p), _mm256_loadu_ps(av)));
                        _mm256_storeu_ps(bv, _mm256_add_ps(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(p), 1)), _mm256_loadu_ps(bv)));
                    }
                }
            }
            // Rows left over (an odd last row) on 256-bit registers; row i's scale vector is [slo[i] x4 | shi[i] x4].
            for (; i < n; ++i) {
                const std::size_t row = row0 + i;
                Planes<__m256i> pl;
                load_planes<B>(tile, r, j, row, pl);
                __m256i ah[NB], al[NB];
                for (int b = 0; b < NB; ++b) ah[b] = al[b] = _mm256_setzero_si256();
                auto step = [&]<int S>(std::integral_constant<int, S>) {
                    const __m256i q = decode_step<B, S>(pl, parts);
                    for (int b = 0; b < NB; ++b) {
                        const __m256i* x = reinterpret_cast<const __m256i*>(xb[b] + 64 * S);
                        ah[b] = _mm256_dpbusd_epi32(ah[b], q, _mm256_loadu_si256(x));
                        al[b] = _mm256_dpbusd_epi32(al[b], q, _mm256_loadu_si256(x + 1));
                    }
                };
                [&]<int... S>(std::integer_sequence<int, S...>) {
                    (step(std::integral_constant<int, S>{}), ...);
                }(std::make_integer_sequence<int, 4>{});
                const __m256i idx = _mm256_add_epi32(_mm256_setr_epi32(0, 0, 0, 0, 8, 8, 8, 8), _mm256_set1_epi32(static_cast<int>(i)));
                const __m256 sv = _mm256_permutex2var_ps(slo, idx, shi);
                for (int b = 0; b < NB; ++b) {
                    // |sum q xh| <= 16 * 255 * 128 per int32 lane: 128x that and the xl part fit in 31 bits.
                    const __m256i t = _mm256_add_epi32(_mm256_slli_epi32(ah[b], 7), al[b]);
                    float* av = acc_base + (row * batch + static_cast<std::size_t>(b0 + b)) * kAccLanes;
                    const __m256 f = NB == 1 ? _mm256_cvtepi32_ps(t) : _mm256_mul_ps(_mm256_cvtepi32_ps(t), xs[b]);
                    _mm256_storeu_ps(av, _mm256_fmadd_ps(f, sv, _mm256_loadu_ps(av)));
                }
            }
        }
    }
}


}  // namespace

void chunks_vnni(const TileArgs& a) {
    const bool done = run_width_and_batch_blocks(a.geom.b, a.batch, [&](auto B, auto NB, int b0) {
        rows_block<decltype(B)::value, decltype(NB)::value>(a, b0);
    });
    if (!done) chunks_generic(a);
}

}  // namespace scalebits::kernels::cpu
