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
//
// Byte order of a step register (canonical for every width): step s (0..3), byte beta = 16H + 2L + h
// holds the code of chunk column 64H + 8s + 32h + L, i.e. slot 8H + s + 4h, lane L. It is the natural
// order of a 2-bit plane [vector 0 | vector 1] shifted by 2s; 1-bit and 4-bit planes are rearranged
// once per row into it (a few instructions per 128 codes). Every int32 lane of vpdpbusd sums bytes of
// one half, i.e. of columns [64H, 64H + 64): groups of 64 columns are the two halves.
#include "cpu_gemm.h"

#include "scalebits/kernels.h"

#include <immintrin.h>

// Planes<__m256i> etc.: GCC warns that the vector types' alignment attributes do not take part in
// template identity, which is harmless here (the types are only used as local values).
#pragma GCC diagnostic ignored "-Wignored-attributes"
// GCC 12's own _mm512_zext*/_mm512_inserti64x4 report their undefined upper halves.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace scalebits::kernels::cpu {

namespace {

// The decode is written once for 256-bit registers (one row) and 512-bit registers (two rows:
// 128-bit lanes [row a H0 | row b H0 | row a H1 | row b H1]); these overloads are all it needs.
inline __m256i srli16(__m256i v, int n) { return _mm256_srli_epi16(v, n); }
inline __m512i srli16(__m512i v, int n) { return _mm512_srli_epi16(v, n); }
inline __m256i slli16(__m256i v, int n) { return _mm256_slli_epi16(v, n); }
inline __m512i slli16(__m512i v, int n) { return _mm512_slli_epi16(v, n); }
inline __m256i and_(__m256i a, __m256i b) { return _mm256_and_si256(a, b); }
inline __m512i and_(__m512i a, __m512i b) { return _mm512_and_si512(a, b); }
// a | (b & c)
inline __m256i or_and(__m256i a, __m256i b, __m256i c) { return _mm256_ternarylogic_epi32(a, b, c, 0xF8); }
inline __m512i or_and(__m512i a, __m512i b, __m512i c) { return _mm512_ternarylogic_epi32(a, b, c, 0xF8); }
template <class V> V rep16(int v);
template <> inline __m256i rep16<__m256i>(int v) { return _mm256_set1_epi16(static_cast<short>(v)); }
template <> inline __m512i rep16<__m512i>(int v) { return _mm512_set1_epi16(static_cast<short>(v)); }

// Per part of the code: the rearranged source registers (a 4-bit part needs two).
template <class V>
struct Planes {
    V r[3][2];
};

// Rearranging the raw plane registers into the canonical byte order (see the top of the file).
// raw[k] holds vector fv + k of the part, in the register's half/lane order.
template <int P, class V>
inline void rearrange(const V (&raw)[4], V (&out)[2]) {
    if constexpr (P == 2) {
        // Slot s of lane L at bit 2s: shifting by 2s puts slot s in byte 0, slot s+4 in byte 1.
        out[0] = raw[0];
    } else if constexpr (P == 1) {
        // raw[0] = [v | v >> 8]: 16 slots per lane at bit s. Low half: slots 0..3 at bits 0..3, 4..7
        // at bits 8..11; high half the same for slots 8..15.
        out[0] = or_and(and_(raw[0], rep16<V>(0x000F)), slli16(raw[0], 4), rep16<V>(0x0F00));
    } else {
        // raw[0] = [vector 0 | vector 2], raw[1] = [vector 1 | vector 3]; vector k holds slots
        // 4k..4k+3 as nibbles. A: byte 0 = slots 0,1 (of vector 0 or 2), byte 1 = slots 4,5 (of
        // vector 1 or 3); B: the same for slots 2,3 and 6,7.
        out[0] = or_and(slli16(raw[1], 8), raw[0], rep16<V>(0x00FF));
        out[1] = or_and(srli16(raw[0], 8), raw[1], rep16<V>(0xFF00));
    }
}

// One row: vector v of the row as a 16-byte load.
template <int B>
inline void load_planes(const std::uint8_t* tile, std::size_t r, std::size_t j, std::size_t row, Planes<__m256i>& pl) {
    auto vec = [&](int v) {
        return _mm_loadu_si128(reinterpret_cast<const __m128i*>(tile + fmt::vector_offset(r, B, j, v, row)));
    };
    constexpr fmt::WidthLayout W = fmt::kWidthTable[B];
    [&]<int... I>(std::integer_sequence<int, I...>) {
        ([&] {
            constexpr fmt::Part p = W.parts[I];
            constexpr int fv = p.first_vector;
            __m256i raw[4];
            if constexpr (p.bits == 2) {
                raw[0] = _mm256_set_m128i(vec(fv + 1), vec(fv));
            } else if constexpr (p.bits == 1) {
                const __m128i v = vec(fv);
                raw[0] = _mm256_set_m128i(_mm_srli_epi16(v, 8), v);
            } else {
                raw[0] = _mm256_set_m128i(vec(fv + 2), vec(fv));
                raw[1] = _mm256_set_m128i(vec(fv + 3), vec(fv + 1));
            }
            rearrange<p.bits>(raw, pl.r[I]);
        }(), ...);
    }(std::make_integer_sequence<int, W.part_count>{});
}

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

// Part I of step S moved to its bit position in the code byte (not yet masked).
template <int B, int I, int S, class V>
inline V part_moved(const Planes<V>& pl) {
    constexpr fmt::Part P = fmt::kWidthTable[B].parts[I];
    constexpr int pos = P.bits == 2 ? 2 * S : P.bits == 1 ? S : 4 * (S % 2);
    const V r = pl.r[I][P.bits == 4 ? S / 2 : 0];
    if constexpr (pos > P.shift) return srli16(r, pos - P.shift);
    if constexpr (pos < P.shift) return slli16(r, P.shift - pos);
    return r;
}
template <int B, int I, class V>
inline V part_mask() {
    constexpr fmt::Part P = fmt::kWidthTable[B].parts[I];
    constexpr int m = ((1 << P.bits) - 1) << P.shift;
    return rep16<V>(m | (m << 8));
}

// 32 (or 2 x 32) codes of step S as unsigned bytes.
template <int B, int S, class V, int I0, int... I>
inline V decode_step(const Planes<V>& pl, std::integer_sequence<int, I0, I...>) {
    V q = and_(part_moved<B, I0, S>(pl), part_mask<B, I0, V>());
    // q | (moved & mask): one vpternlogd per further part.
    ((q = or_and(q, part_moved<B, I, S>(pl), part_mask<B, I, V>())), ...);
    return q;
}

// fp16 scales of up to 8 consecutive rows of one group, times the activation scale. Masked so the
// load never reads past the rows of the tile.
inline __m256 scales8(const std::uint8_t* scales, std::size_t gi, std::size_t r, std::size_t row0, unsigned n) {
    const __mmask8 m = static_cast<__mmask8>((1u << n) - 1u);
    return _mm256_cvtph_ps(_mm_maskz_loadu_epi16(m, scales + 2 * (gi * r + row0)));
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
    // Prefetch the next tile evenly over this one's row passes (first batch block only).
    const char* pf = b0 == 0 ? reinterpret_cast<const char*>(a.next_tile) : nullptr;
    const char* const pf_end = pf ? pf + a.next_tile_bytes : nullptr;
    const std::size_t pf_per_pair = pf ? (2 * ((a.next_tile_bytes + 63) / 64) + nc * r - 1) / (nc * r) : 0;
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
            xs[b] = _mm256_set1_ps(a.xscale[static_cast<std::size_t>(b0 + b) * a.xscale_stride + chunk]);
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
                if (pf < pf_end) {  // may touch a few lines past the tile: prefetches never fault
                    for (std::size_t k = 0; k < pf_per_pair; ++k) _mm_prefetch(pf + 64 * k, _MM_HINT_T0);
                    pf += 64 * pf_per_pair;
                }
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
