// Private: the byte-code decode of the byte kernels (gemm_vnni.cpp: AVX-512 VNNI, row pairs on
// 512-bit registers; gemm_bytes_avx2.cpp: AVX2, one row on 256-bit registers). One step turns 32
// codes of a row's 128-column chunk into unsigned bytes, in the order the activations are prepared
// in (byte_chunk_activations), for byte products (vpdpbusd, vpmaddubsw) against them.
//
// Byte order of a step register (canonical for every width): step s (0..3), byte beta = 16H + 2L + h
// holds the code of chunk column 64H + 8s + 32h + L, i.e. slot 8H + s + 4h, lane L. It is the natural
// order of a 2-bit plane [vector 0 | vector 1] shifted by 2s; 1-bit and 4-bit planes are rearranged
// once per row into it (a few instructions per 128 codes). Every group of 4 bytes (an int32 lane of
// vpdpbusd, or of vpmaddubsw + vpmaddwd) holds columns of one half, i.e. of [64H, 64H + 64): groups
// of 64 columns are the two halves.
//
// Each includer is built for another instruction set (the 256-bit or_and is vpternlogd under
// AVX-512VL, and + or under AVX2), so everything here has internal linkage: an inline function or a
// template instance with external linkage would be merged by the linker into one copy, which could
// be the AVX-512 one on an AVX2 machine.
#pragma once

#include "cpu_gemm.h"

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <utility>

// Planes<__m256i> etc.: GCC warns that the vector types' alignment attributes do not take part in
// template identity, which is harmless here (the types are only used as local values). Left on for
// the includers, which name these templates too.
#pragma GCC diagnostic ignored "-Wignored-attributes"

namespace scalebits::kernels::cpu {

namespace {

// The decode is written once for 256-bit registers (one row) and, where the includer is built for
// AVX-512, 512-bit registers (two rows: 128-bit lanes [row a H0 | row b H0 | row a H1 | row b H1]);
// these overloads are all it needs.
inline __m256i srli16(__m256i v, int n) { return _mm256_srli_epi16(v, n); }
inline __m256i slli16(__m256i v, int n) { return _mm256_slli_epi16(v, n); }
inline __m256i and_(__m256i a, __m256i b) { return _mm256_and_si256(a, b); }
// a | (b & c): one vpternlogd where AVX-512VL is there.
#if defined(__AVX512VL__)
inline __m256i or_and(__m256i a, __m256i b, __m256i c) { return _mm256_ternarylogic_epi32(a, b, c, 0xF8); }
#else
inline __m256i or_and(__m256i a, __m256i b, __m256i c) { return _mm256_or_si256(a, _mm256_and_si256(b, c)); }
#endif
template <class V> V rep16(int v);
template <> inline __m256i rep16<__m256i>(int v) { return _mm256_set1_epi16(static_cast<short>(v)); }
#if defined(__AVX512F__) && defined(__AVX512BW__)
inline __m512i srli16(__m512i v, int n) { return _mm512_srli_epi16(v, n); }
inline __m512i slli16(__m512i v, int n) { return _mm512_slli_epi16(v, n); }
inline __m512i and_(__m512i a, __m512i b) { return _mm512_and_si512(a, b); }
inline __m512i or_and(__m512i a, __m512i b, __m512i c) { return _mm512_ternarylogic_epi32(a, b, c, 0xF8); }
template <> inline __m512i rep16<__m512i>(int v) { return _mm512_set1_epi16(static_cast<short>(v)); }
#endif

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
    // q | (moved & mask) per further part (or_and).
    ((q = or_and(q, part_moved<B, I, S>(pl), part_mask<B, I, V>())), ...);
    return q;
}

}  // namespace

}  // namespace scalebits::kernels::cpu
