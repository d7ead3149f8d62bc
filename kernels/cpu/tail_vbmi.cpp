// AVX-512 VBMI pieces of the byte (VNNI) path: the zero-point terms and a tile's tail columns, both
// of which hold b-bit fields packed LSB-first (built with AVX-512 VNNI + VBMI flags; the driver calls
// them after __builtin_cpu_supports says so).
//
// Why: on SmolLM2 (K = 576 = 4 x 128 + 64) every tile row ends in a 64-column tail, a ninth of the
// weights, and every tile has its zero points to apply. With the AVX2 code (vpshufb + vpmullw per 16
// tail codes, two vpsrlvq per 8 zero points) those took 13% of a decode against 47% for all the
// chunks. Here 64 fields of a bitstream become 64 bytes in two instructions: vpermb puts the b bytes
// holding fields 8m..8m+7 into qword m, and vpmultishiftqb pulls field k out of it at bit k * b
// (fields never cross their qword: 8 fields are b <= 8 bytes).
// A tail row's 64 codes then meet the tail's 15-bit activations (x = 128 xh + xl, as in the chunk
// kernel) in two vpdpbusd; 16 rows' products are summed across lanes together, and their total,
// scaled, goes into the zero-point accumulator with a minus sign (the driver outputs sum(acc) - zacc).
#include "cpu_gemm.h"

#include "scalebits/kernels.h"

#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cstdint>

namespace scalebits::kernels::cpu {

namespace {

// The vpermb and vpmultishiftqb controls for each width b (index b - 1), built at compile time: a
// tile's worth of scalar stores read back as vectors would cost more than the tile's zero points.
struct FieldControls {
    alignas(64) std::uint8_t gather[8][64], shifts[8][64];
};
constexpr FieldControls make_field_controls() {
    FieldControls c{};
    for (int b = 1; b <= 8; ++b)
        for (int m = 0; m < 8; ++m)
            for (int k = 0; k < 8; ++k) {
                c.gather[b - 1][8 * m + k] = static_cast<std::uint8_t>(std::min(63, m * b + k));
                c.shifts[b - 1][8 * m + k] = static_cast<std::uint8_t>(k * b);
            }
    return c;
}
constexpr FieldControls kFieldControls = make_field_controls();

// Up to 64 consecutive b-bit fields (b = 1..8) of an LSB-first bitstream starting on a byte, as bytes.
struct FieldDecode {
    __m512i gather, shifts, mask;
    explicit FieldDecode(int b)
        : gather(_mm512_load_si512(kFieldControls.gather[b - 1])),
          shifts(_mm512_load_si512(kFieldControls.shifts[b - 1])),
          mask(_mm512_set1_epi8(static_cast<char>((1u << b) - 1u))) {}
    // The fields in `bytes` bytes from src (only those are read).
    __m512i operator()(const std::uint8_t* src, __mmask64 bytes) const {
        const __m512i raw = _mm512_maskz_loadu_epi8(bytes, src);
        return _mm512_and_si512(_mm512_multishift_epi64_epi8(shifts, _mm512_permutexvar_epi8(gather, raw)), mask);
    }
};

inline __mmask64 first_bytes(std::size_t n) { return n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1; }
inline __mmask16 first_lanes(std::size_t n) { return static_cast<__mmask16>(n >= 16 ? 0xFFFFu : (1u << n) - 1u); }

// Lane i of the result: the sum of the 16 int32 lanes of v[i].
inline __m512i lane_sums16(const __m512i (&v)[16]) {
    // Pairs: lanes of v[2i] and v[2i+1] interleaved, two partial sums each per 128-bit lane.
    __m512i a[8], b[4], c[2];
    for (int i = 0; i < 8; ++i)
        a[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
    // Each 128-bit lane of b[i] holds [v4i | v4i+1 | v4i+2 | v4i+3] partial sums.
    for (int i = 0; i < 4; ++i)
        b[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_epi64(a[2 * i], a[2 * i + 1]));
    // Across 128-bit lanes: [b0 L0+L1 | b0 L2+L3 | b1 L0+L1 | b1 L2+L3], then the rows in order.
    for (int i = 0; i < 2; ++i)
        c[i] = _mm512_add_epi32(_mm512_shuffle_i32x4(b[2 * i], b[2 * i + 1], 0x88), _mm512_shuffle_i32x4(b[2 * i], b[2 * i + 1], 0xDD));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(c[0], c[1], 0x88), _mm512_shuffle_i32x4(c[0], c[1], 0xDD));
}

// 16 rows' (fewer in the last block) tail products with one batch item's activations.
template <bool FULL>
inline __m512i tail_block(const FieldDecode& dec, const std::uint8_t* codes, std::size_t row_bytes, __mmask64 load,
                          std::size_t n, __m512i xh, __m512i xl) {
    __m512i t[16];
    for (std::size_t i = 0; i < 16; ++i) {
        if (!FULL && i >= n) {
            t[i] = _mm512_setzero_si512();
            continue;
        }
        const __m512i q = dec(codes + i * row_bytes, load);
        // |sum q xh| <= 4 * 255 * 128 per lane, and 16 lanes of 128x that plus the xl part stay below
        // 2^31 (64 * 255 * 16383).
        const __m512i h = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, xh);
        const __m512i l = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, xl);
        t[i] = _mm512_add_epi32(_mm512_slli_epi32(h, 7), l);
    }
    return lane_sums16(t);
}

// fp16 scales of 16 consecutive rows (of one group) as floats; the first n only where n < 16, so that
// the load stays inside the tile.
inline __m512 scales16(const std::uint8_t* scales, std::size_t at, std::size_t n) {
    const auto* p = scales + 2 * at;
    return _mm512_cvtph_ps(n == 16 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
                                   : _mm256_maskz_loadu_epi16(first_lanes(n), p));
}

// zacc[0, n) += v (n <= 16). Whole vectors where n == 16: a masked store that a later load of the same
// lines reads back does not forward on AMD's Zen 4, and costs a stall of its own.
inline void add_to(float* zacc, std::size_t n, __m512 v) {
    if (n == 16) {
        _mm512_storeu_ps(zacc, _mm512_add_ps(_mm512_loadu_ps(zacc), v));
    } else {
        const __mmask16 m = first_lanes(n);
        _mm512_mask_storeu_ps(zacc, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, zacc), v));
    }
}

}  // namespace

void zero_terms_vbmi(const TileArgs& a) {
    const fmt::TileGeom g = a.geom;
    if (g.r % 8 != 0) {  // a group's fields would not start on a byte
        zero_terms_avx2(a);
        return;
    }
    const TileSections sec = packed_tile_sections(g.r, g.c, g.g, g.b);
    const std::uint8_t* scales = a.tile + sec.payload;
    const std::uint8_t* zeros = scales + sec.scales;
    const std::size_t r = g.r, ub = static_cast<std::size_t>(g.b), groups = g.groups_per_row();
    const FieldDecode dec(g.b);
    // s * z of group gi for rows [row0, row0 + n): gi * r + row0 is a multiple of 8, so the fields
    // start on a byte.
    auto sz_of = [&](std::size_t gi, std::size_t row0, std::size_t n) {
        const std::size_t idx = gi * r + row0;
        const __m128i z = _mm512_castsi512_si128(dec(zeros + idx * ub / 8, first_bytes((n * ub + 7) / 8)));
        return _mm512_mul_ps(scales16(scales, idx, n), _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(z)));
    };
    const std::size_t batch = static_cast<std::size_t>(a.batch);
    if (batch == 1) {
        // Per 16 rows, the terms of all the tile's groups summed in a register and added to zacc once.
        for (std::size_t row0 = 0; row0 < r; row0 += 16) {
            const std::size_t n = std::min<std::size_t>(16, r - row0);
            __m512 t = _mm512_setzero_ps();
            for (std::size_t gi = 0; gi < groups; ++gi) t = _mm512_fmadd_ps(sz_of(gi, row0, n), _mm512_set1_ps(a.xsum[gi]), t);
            add_to(a.zacc + row0, n, t);
        }
        return;
    }
    // Batches: each group's s * z decoded once for all the items.
    for (std::size_t row0 = 0; row0 < r; row0 += 16) {
        const std::size_t n = std::min<std::size_t>(16, r - row0);
        for (std::size_t gi = 0; gi < groups; ++gi) {
            const __m512 sz = sz_of(gi, row0, n);
            for (std::size_t b = 0; b < batch; ++b)
                add_to(a.zacc + b * r + row0, n, _mm512_mul_ps(sz, _mm512_set1_ps(a.xsum[b * a.xsum_stride + gi])));
        }
    }
}

void tail_vbmi(const TileArgs& a) {
    const fmt::TileGeom g = a.geom;
    const std::size_t c0 = g.nc() * 128, tail = g.tail(), ub = static_cast<std::size_t>(g.b), r = g.r;
    const std::uint8_t* scales = a.tile + packed_tile_sections(g.r, g.c, g.g, g.b).payload;
    const std::uint8_t* codes = a.tile + g.tail_start();
    const std::size_t row_bytes = tail * ub / 8, gi = c0 / g.g;
    const __mmask64 load = first_bytes(row_bytes), xmask = first_bytes(tail);
    const FieldDecode dec(g.b);
    for (std::size_t b = 0; b < static_cast<std::size_t>(a.batch); ++b) {
        const std::int8_t* x8 = a.x8 + b * a.x8_stride + 2 * c0;
        const __m512i xh = _mm512_maskz_loadu_epi8(xmask, x8), xl = _mm512_maskz_loadu_epi8(xmask, x8 + tail);
        // Negated: the sums go into zacc, which is subtracted.
        const __m512 xs = _mm512_set1_ps(-a.tail_x8scale[b * a.tail_xscale_stride]);
        for (std::size_t row0 = 0; row0 < r; row0 += 16) {
            const std::size_t n = std::min<std::size_t>(16, r - row0);
            const std::uint8_t* src = codes + row0 * row_bytes;
            const __m512i sums = n == 16 ? tail_block<true>(dec, src, row_bytes, load, n, xh, xl)
                                         : tail_block<false>(dec, src, row_bytes, load, n, xh, xl);
            const __m512 s = _mm512_mul_ps(scales16(scales, gi * r + row0, n), xs);
            add_to(a.zacc + b * r + row0, n, _mm512_mul_ps(_mm512_cvtepi32_ps(sums), s));
        }
    }
}

}  // namespace scalebits::kernels::cpu
