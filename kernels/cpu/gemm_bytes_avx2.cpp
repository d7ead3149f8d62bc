// AVX2 byte-code chunk kernel: the VNNI kernel's design (gemm_vnni.cpp) with AVX2 instructions only,
// one row per 256-bit register (built with -mavx2 -mfma -mf16c; the driver calls it after
// __builtin_cpu_supports says so, for groups of 64 or whole chunks, at batch 1; widths 2..7).
//
// Why: the int16 kernel (gemm_avx2.cpp) decodes 16 codes per step into 16-bit lanes, so the decode
// costs about as much as the products. Here a step decodes 32 codes into bytes (byte_decode.h, the
// VNNI kernel's decode and byte order, with and + or for vpternlogd) against the same 15-bit
// activations split as x = 128 * xh + xl. Without vpdpbusd the byte products are vpmaddubsw
// (unsigned codes times signed activation bytes, adjacent pairs summed into int16 with saturation)
// and vpmaddwd against 128 (the xh half) or 1 (the xl half) to widen them into int32.
//
// Exactness: a pair sum is at most 2 * (2^b - 1) * 128 in magnitude, below 32767 for b <= 7, so
// vpmaddubsw never saturates (8-bit tiles stay with the int16 kernel). For small widths the pair sums
// of several steps are added in int16 before one widening: n steps fit while n * 256 * (2^b - 1) <=
// 32767, i.e. all four steps of a chunk for b <= 5, two for b = 6, one for b = 7.
#include "byte_decode.h"
#include "cpu_gemm.h"

#include "scalebits/kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace scalebits::kernels::cpu {

namespace {

// Steps of a chunk (4) whose int16 pair sums can be added before widening, for width B.
constexpr int int16_steps(int B) { return std::min(4, 32767 / (2 * 128 * ((1 << B) - 1))); }
static_assert(int16_steps(5) == 4 && int16_steps(6) == 2 && int16_steps(7) == 1, "see the top of the file");
static_assert(2 * 128 * ((1 << kAvx2BytesMaxWidth) - 1) <= 32767, "vpmaddubsw must not saturate");

// fp16 scales of up to 8 consecutive rows of one group, as floats. The last rows of an edge tile
// go through a zeroed buffer so the load stays inside the group's scales.
inline __m256 scales8(const std::uint8_t* scales, std::size_t gi, std::size_t r, std::size_t row0, std::size_t n) {
    const std::uint8_t* p = scales + 2 * (gi * r + row0);
    if (n == 8) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    std::uint8_t buf[16] = {};
    std::memcpy(buf, p, 2 * n);
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(buf)));
}

// Per-row scale vectors: lanes 0..3 hold the low half's columns (group glo), lanes 4..7 the high
// half's.
struct RowScales {
    alignas(32) float lo[8], hi[8];
    bool one_group;
    __m256 of(std::size_t i) const {
        return one_group ? _mm256_broadcast_ss(lo + i) : _mm256_set_m128(_mm_broadcast_ss(hi + i), _mm_broadcast_ss(lo + i));
    }
};

// R adjacent rows (row, row + 1, ...) of chunk j: the products and the flush into the accumulators.
// The rows share each activation load.
template <int B, int R>
inline void chunk_rows(const std::uint8_t* tile, std::size_t r, std::size_t j, std::size_t row, std::size_t i,
                       const std::int8_t* xb, const RowScales& sc, float* acc_base) {
    constexpr auto parts = std::make_integer_sequence<int, fmt::kWidthTable[B].part_count>{};
    constexpr int run = int16_steps(B);
    static_assert(4 % run == 0, "the widenings must end at the chunk's last step");
    const __m256i ones = _mm256_set1_epi16(1), by128 = _mm256_set1_epi16(128);
    Planes<__m256i> pl[R];
    for (int k = 0; k < R; ++k) load_planes<B>(tile, r, j, row + static_cast<std::size_t>(k), pl[k]);
    // Per row: int16 pair sums of the xh and xl products since the last widening, and the int32 sum
    // 128 * sum q xh + sum q xl (|.| < 16 * 127 * 16383 < 2^25).
    __m256i h16[R], l16[R], t[R];
    auto step = [&]<int S>(std::integral_constant<int, S>) {
        const __m256i* x = reinterpret_cast<const __m256i*>(xb + 64 * S);
        const __m256i xh = _mm256_loadu_si256(x), xl = _mm256_loadu_si256(x + 1);
        for (int k = 0; k < R; ++k) {
            const __m256i q = decode_step<B, S>(pl[k], parts);
            const __m256i ph = _mm256_maddubs_epi16(q, xh), pl16 = _mm256_maddubs_epi16(q, xl);
            if constexpr (S % run == 0) {
                h16[k] = ph;
                l16[k] = pl16;
            } else {
                h16[k] = _mm256_add_epi16(h16[k], ph);
                l16[k] = _mm256_add_epi16(l16[k], pl16);
            }
            if constexpr ((S + 1) % run == 0) {
                const __m256i w = _mm256_add_epi32(_mm256_madd_epi16(h16[k], by128), _mm256_madd_epi16(l16[k], ones));
                t[k] = S + 1 == run ? w : _mm256_add_epi32(t[k], w);
            }
        }
    };
    [&]<int... S>(std::integer_sequence<int, S...>) {
        (step(std::integral_constant<int, S>{}), ...);
    }(std::make_integer_sequence<int, 4>{});
    for (int k = 0; k < R; ++k) {
        float* av = acc_base + (row + static_cast<std::size_t>(k)) * kAccLanes;
        _mm256_storeu_ps(av, _mm256_fmadd_ps(_mm256_cvtepi32_ps(t[k]), sc.of(i + static_cast<std::size_t>(k)), _mm256_loadu_ps(av)));
    }
}

template <int B>
void rows(const TileArgs& a) {
    // Fields copied to locals: the stores into acc could alias them, which would make the compiler
    // reload them in every row.
    const fmt::TileGeom g = a.geom;
    const std::size_t r = g.r, nc = g.nc();
    const std::uint8_t* const tile = a.tile;
    float* const acc_base = a.acc;
    const std::uint8_t* scales = tile + packed_tile_sections(g.r, g.c, g.g, g.b).payload;
    // Row pairs share each activation load and give the scheduler two independent chains (3 and 6
    // bits ~10% faster than single rows, 2 and 4 bits even; four rows were slower).
    constexpr int R = 2;
    // Without it the kernel read large matrices at half the speed it works through them in cache.
    NextTilePrefetch prefetch(a, 0, R);
    for (std::size_t j = 0; j < nc; ++j) {
        // Groups of the chunk's two halves (g == 64: two groups; g a multiple of 128: one).
        const std::size_t glo = g.g == 64 ? 2 * j : 128 * j / g.g;
        const std::size_t ghi = g.g == 64 ? 2 * j + 1 : glo;
        const std::int8_t* xb = a.x8 + 256 * j;
        // The activation scale folded into the row scales once per 8 rows.
        const __m256 xs = _mm256_set1_ps(a.x8scale[(a.col0 + 128 * j) / 128]);
        for (std::size_t row0 = 0; row0 < r; row0 += 8) {
            const std::size_t n = std::min<std::size_t>(8, r - row0);
            RowScales sc;
            sc.one_group = glo == ghi;
            _mm256_store_ps(sc.lo, _mm256_mul_ps(scales8(scales, glo, r, row0, n), xs));
            if (!sc.one_group) _mm256_store_ps(sc.hi, _mm256_mul_ps(scales8(scales, ghi, r, row0, n), xs));
            std::size_t i = 0;
            for (; i + R <= n; i += R) {
                prefetch.step();
                chunk_rows<B, R>(tile, r, j, row0 + i, i, xb, sc, acc_base);
            }
            for (; i < n; ++i) chunk_rows<B, 1>(tile, r, j, row0 + i, i, xb, sc, acc_base);
        }
    }
}

}  // namespace

void chunks_avx2_bytes(const TileArgs& a) {
    switch (a.batch == 1 ? a.geom.b : 0) {
        case 2: rows<2>(a); break;
        case 3: rows<3>(a); break;
        case 4: rows<4>(a); break;
        case 5: rows<5>(a); break;
        case 6: rows<6>(a); break;
        case 7: rows<7>(a); break;
        default: chunks_avx2(a); break;
    }
}

}  // namespace scalebits::kernels::cpu
