// AVX2+FMA chunk kernel (this file alone is compiled with -mavx2 -mfma -mf16c; the driver only
// calls it after __builtin_cpu_supports says so).
//
// For one row and one 128-column chunk, the b 16-byte vectors are combined into 256-bit registers
// holding two slots per step ([slot s | slot s+8], 16 lanes of 16 bits), so one shift and one mask
// per part extract 16 codes; vpmaddwd multiplies them by the int16-rounded activations (permuted by
// the driver into exactly that order) and sums pairs into int32, exactly. Per group, the integer sum
// is converted once and multiplied by scale * activation scale (sum s q x = s sum q x); the zero
// point is handled by the driver in fp32 from the unrounded activations.
#include "cpu_gemm.h"

#include "scalebits/kernels.h"

#include <immintrin.h>

#include <cstring>
#include <utility>

namespace scalebits::kernels::cpu {

namespace {

constexpr int regs_for_part(int bits) { return bits == 4 ? 2 : 1; }
constexpr int reg_base(int b, int part) {
    int base = 0;
    for (int i = 0; i < part; ++i) base += regs_for_part(fmt::kWidthTable[b].parts[i].bits);
    return base;
}

// Part I of the codes of step S, moved to its bit position in the code (not yet masked).
template <int B, int I, int S>
inline __m256i part_moved(const __m256i (&R)[4]) {
    constexpr fmt::Part P = fmt::kWidthTable[B].parts[I];
    constexpr int per_lane = 16 / P.bits;
    constexpr int reg = reg_base(B, I) + (P.bits == 4 ? S / 4 : 0);
    constexpr int sh = P.bits * (S % per_lane);
    __m256i r = R[reg];
    if constexpr (sh > P.shift) r = _mm256_srli_epi16(r, sh - P.shift);
    if constexpr (sh < P.shift) r = _mm256_slli_epi16(r, P.shift - sh);
    return r;
}
template <int B, int I>
inline __m256i part_mask() {
    constexpr fmt::Part P = fmt::kWidthTable[B].parts[I];
    return _mm256_set1_epi16(static_cast<short>(((1 << P.bits) - 1) << P.shift));
}

// 16 codes of step S: low 128 bits = slot S lanes 0..7, high 128 bits = slot S+8 lanes 0..7.
template <int B, int S, int... I>
inline __m256i decode_step(const __m256i (&R)[4], std::integer_sequence<int, I...>) {
#if defined(SCALEBITS_AVX512VL_VARIANT)
    // q | (moved & mask) in one vpternlogd (0xF8 = A | (B & C)) per extra part.
    __m256i q = _mm256_setzero_si256();
    // (Parenthesized: clang defines the intrinsic as a macro, and template commas would split it.)
    ((q = _mm256_ternarylogic_epi32(q, (part_moved<B, I, S>(R)), (part_mask<B, I>()), 0xF8)), ...);
    return q;
#else
    return ((part_moved<B, I, S>(R) & part_mask<B, I>()) | ...);
#endif
}

template <int B>
inline void load_chunk(const std::uint8_t* tile, std::size_t r, std::size_t j, std::size_t row, __m256i (&R)[4]) {
    auto vec = [&](int v) {
        return _mm_loadu_si128(reinterpret_cast<const __m128i*>(tile + fmt::vector_offset(r, B, j, v, row)));
    };
    constexpr fmt::WidthLayout W = fmt::kWidthTable[B];
    for (int i = 0; i < W.part_count; ++i) {
        const fmt::Part& p = W.parts[i];
        const int base = reg_base(B, i), fv = p.first_vector;
        if (p.bits == 4) {
            R[base] = _mm256_set_m128i(vec(fv + 2), vec(fv));
            R[base + 1] = _mm256_set_m128i(vec(fv + 3), vec(fv + 1));
        } else if (p.bits == 2) {
            R[base] = _mm256_set_m128i(vec(fv + 1), vec(fv));
        } else {
            const __m128i v = vec(fv);
            R[base] = _mm256_set_m128i(_mm_srli_epi16(v, 8), v);
        }
    }
}

inline float hsum128(__m128 v) {
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    v = _mm_add_ss(v, _mm_movehdup_ps(v));
    return _mm_cvtss_f32(v);
}

inline float load_scale(const std::uint8_t* scales, std::size_t gi, std::size_t r, std::size_t row) {
    std::uint16_t h;
    std::memcpy(&h, scales + 2 * (gi * r + row), 2);
    return _cvtsh_ss(h);
}

// Which group each step's two halves belong to, without divisions in the inner loop: groups of
// 8..64 columns are powers of two (g | 64), groups of >= 128 columns cover whole chunks.
struct ChunkGroups {
    int log2g;            // g <= 64: log2(g); otherwise -1
    std::size_t whole;    // g >= 128: the group of the whole chunk
};

inline ChunkGroups chunk_groups(std::size_t g, std::size_t j) {
    if (g <= 64) {
        int l = 0;
        while ((std::size_t{1} << l) < g) ++l;
        return {l, 0};
    }
    return {-1, 128 * j / g};
}

template <int B, int NB>
void rows_block(const TileArgs& a, int b0) {
    const fmt::TileGeom& g = a.geom;
    const std::size_t r = g.r, nc = g.nc();
    const std::uint8_t* scales = a.tile + packed_tile_sections(g.r, g.c, g.g, g.b).payload;
    constexpr auto parts = std::make_integer_sequence<int, fmt::kWidthTable[B].part_count>{};
    // Chunks outside, rows inside: the rows of one chunk are b contiguous streams of r*16 bytes.
    for (std::size_t j = 0; j < nc; ++j) {
        const ChunkGroups cg = chunk_groups(g.g, j);
        const std::size_t chunk = (a.col0 + 128 * j) / 128;
        const std::int16_t* xb[NB];
        float xs[NB];
        for (int b = 0; b < NB; ++b) {
            xb[b] = a.xq + static_cast<std::size_t>(b0 + b) * a.x_stride + 128 * j;
            xs[b] = a.xscale[static_cast<std::size_t>(b0 + b) * a.xscale_stride + chunk];
        }
        for (std::size_t row = 0; row < r; ++row) {
            float* acc = a.acc + (row * static_cast<std::size_t>(a.batch) + static_cast<std::size_t>(b0)) * kAccLanes;
            __m256i R[4];
            load_chunk<B>(a.tile, r, j, row, R);
            // Independent accumulation chains: with one chain per batch item, the add latency
            // (4-5 cycles per step) and not the ALUs would bound small batches.
            constexpr int C = NB >= 4 ? 1 : 4 / NB;
            __m256i iacc[NB][C];
            for (int b = 0; b < NB; ++b)
                for (int c = 0; c < C; ++c) iacc[b][c] = _mm256_setzero_si256();
            auto step = [&]<int S>(std::integral_constant<int, S>) {
                const __m256i q = decode_step<B, S>(R, parts);
                // vpmaddwd: codes (< 256) times int16 activations, adjacent pairs summed into int32.
                // 8 steps of 2 products stay below 2^31 (16 * 255 * 32767 < 2^27).
                for (int b = 0; b < NB; ++b) {
                    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[b] + 16 * S));
                    #if defined(SCALEBITS_AVX512VL_VARIANT)
                    iacc[b][S % C] = _mm256_dpwssd_epi32(iacc[b][S % C], q, xv);  // VNNI: madd + add in one
#else
                    iacc[b][S % C] = _mm256_add_epi32(iacc[b][S % C], _mm256_madd_epi16(q, xv));
#endif
                }
                // Flush at group ends: lanes 0..3 hold columns of slot S (group gl), lanes 4..7
                // columns of slot S+8 (group gh).
                const bool flush = S == 7 || (cg.log2g >= 0 && ((8 * (S + 1)) & ((1 << cg.log2g) - 1)) == 0);
                if (flush) {
                    std::size_t gl = cg.whole, gh = cg.whole;
                    if (cg.log2g >= 0) {
                        gl = (128 * j + 8 * S) >> cg.log2g;
                        gh = (128 * j + 8 * S + 64) >> cg.log2g;
                    }
                    const __m128 sl = _mm_set1_ps(load_scale(scales, gl, r, row));
                    const __m128 sh = gl == gh ? sl : _mm_set1_ps(load_scale(scales, gh, r, row));
                    const __m256 sv = _mm256_set_m128(sh, sl);
                    for (int b = 0; b < NB; ++b) {
                        float* av = acc + b * kAccLanes;
                        const __m256 f = _mm256_mul_ps(sv, _mm256_set1_ps(xs[b]));
                        __m256i sum = iacc[b][0];
                        for (int c = 1; c < C; ++c) sum = _mm256_add_epi32(sum, iacc[b][c]);
                        _mm256_storeu_ps(av, _mm256_fmadd_ps(f, _mm256_cvtepi32_ps(sum), _mm256_loadu_ps(av)));
                        for (int c = 0; c < C; ++c) iacc[b][c] = _mm256_setzero_si256();
                    }
                }
            };
            [&]<int... S>(std::integer_sequence<int, S...>) {
                (step(std::integral_constant<int, S>{}), ...);
            }(std::make_integer_sequence<int, 8>{});
        }
    }
}


}  // namespace

#if !defined(SCALEBITS_AVX512VL_VARIANT)
// Zero-point term for 8 rows at a time: scales are [group][row] fp16 (one 16-byte load), zeros
// the matching 8 b-bit fields (b bytes when the rows start on a multiple of 8), spread to 32-bit
// lanes with variable shifts.
void zero_terms_avx2(const TileArgs& a) {
    const fmt::TileGeom& g = a.geom;
    const TileSections sec = packed_tile_sections(g.r, g.c, g.g, g.b);
    const std::uint8_t* scales = a.tile + sec.payload;
    const std::uint8_t* zeros = scales + sec.scales;
    const std::size_t r = g.r, ub = static_cast<std::size_t>(g.b);
    const unsigned mask = (1u << g.b) - 1u;
    // Field i of a 64-bit word at bit i * b, spread to 32-bit lanes with two variable shifts (a
    // scalar loop into a stack array would stall on store forwarding when read back as a vector).
    const long long b64 = g.b;
    const __m256i sh_lo = _mm256_setr_epi64x(0, b64, 2 * b64, 3 * b64);
    const __m256i sh_hi = _mm256_setr_epi64x(4 * b64, 5 * b64, 6 * b64, 7 * b64);
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    const __m256i vmask = _mm256_set1_epi32(static_cast<int>(mask));
    for (std::size_t gi = 0; gi < g.groups_per_row(); ++gi) {
        std::size_t row = 0;
        if (r % 8 == 0) {
            for (; row < r; row += 8) {
                const std::size_t idx = gi * r + row;  // multiple of 8: the 8 fields start on a byte
                std::uint64_t bits;
                const std::size_t at = idx * ub / 8;
                if (at + 8 <= sec.zeros) {  // a fixed 8-byte load while it stays inside the section
                    std::memcpy(&bits, zeros + at, 8);
                } else {
                    // Else the section's last 8 bytes (it has at least 16), shifted down to the fields.
                    // Copying only the b bytes was a library call and a store-forwarding stall on
                    // reading them back: 17% of a 576 x 1536 product at 2 bits, batch 1.
                    std::memcpy(&bits, zeros + sec.zeros - 8, 8);
                    bits >>= 8 * (at + 8 - sec.zeros);
                }
                const __m256i bv = _mm256_set1_epi64x(static_cast<long long>(bits));
                const __m256i lo = _mm256_permutevar8x32_epi32(_mm256_srlv_epi64(bv, sh_lo), even);
                const __m256i hi = _mm256_permutevar8x32_epi32(_mm256_srlv_epi64(bv, sh_hi), even);
                const __m256i z = _mm256_and_si256(_mm256_blend_epi32(lo, hi, 0xF0), vmask);
                const __m256 s8 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 2 * idx)));
                const __m256 sz = _mm256_mul_ps(s8, _mm256_cvtepi32_ps(z));
                for (int b = 0; b < a.batch; ++b) {
                    float* za = a.zacc + static_cast<std::size_t>(b) * r + row;
                    const __m256 xs = _mm256_set1_ps(a.xsum[static_cast<std::size_t>(b) * a.xsum_stride + gi]);
                    _mm256_storeu_ps(za, _mm256_fmadd_ps(sz, xs, _mm256_loadu_ps(za)));
                }
            }
        }
        for (; row < r; ++row) {  // edge tiles whose height is not a multiple of 8
            const float sz = load_scale(scales, gi, r, row) *
                             static_cast<float>(fmt::read_bits(zeros, (gi * r + row) * ub, g.b));
            for (int b = 0; b < a.batch; ++b)
                a.zacc[static_cast<std::size_t>(b) * r + row] += sz * a.xsum[static_cast<std::size_t>(b) * a.xsum_stride + gi];
        }
    }
}

#endif

#if defined(SCALEBITS_AVX512VL_VARIANT)
void chunks_avx512vl(const TileArgs& a) {
#else
void chunks_avx2(const TileArgs& a) {
#endif
    const bool done = run_width_and_batch_blocks(a.geom.b, a.batch, [&](auto B, auto NB, int b0) {
        rows_block<decltype(B)::value, decltype(NB)::value>(a, b0);
    });
    if (!done) chunks_generic(a);
}

#if !defined(SCALEBITS_AVX512VL_VARIANT)
void f32_rows_avx2(const float* W, std::size_t K, const float* x, int batch, std::size_t N, std::size_t n0,
                   std::size_t n1, float* y) {
    for (std::size_t n = n0; n < n1; ++n) {
        const float* w = W + n * K;
        for (int b = 0; b < batch; ++b) {
            const float* xb = x + static_cast<std::size_t>(b) * K;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            std::size_t k = 0;
            for (; k + 32 <= K; k += 32) {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k), _mm256_loadu_ps(xb + k), a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k + 8), _mm256_loadu_ps(xb + k + 8), a1);
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k + 16), _mm256_loadu_ps(xb + k + 16), a2);
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k + 24), _mm256_loadu_ps(xb + k + 24), a3);
            }
            const __m256 t = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
            float s = hsum128(_mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
            for (; k < K; ++k) s += w[k] * xb[k];
            y[static_cast<std::size_t>(b) * N + n] = s;
        }
    }
}

void f16_rows_avx2(const std::uint16_t* W, std::size_t K, const float* x, int batch, std::size_t N, std::size_t n0,
                   std::size_t n1, float* y) {
    // Batch items in blocks of 4: each row's halves are converted once per block.
    for (std::size_t n = n0; n < n1; ++n) {
        const std::uint16_t* w = W + n * K;
        for (int b0 = 0; b0 < batch; b0 += 4) {
            const int nb = std::min(4, batch - b0);
            __m256 a[4][2];
            for (int j = 0; j < 4; ++j) a[j][0] = a[j][1] = _mm256_setzero_ps();
            std::size_t k = 0;
            for (; k + 16 <= K; k += 16) {
                const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + k)));
                const __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + k + 8)));
                for (int j = 0; j < nb; ++j) {
                    const float* xb = x + static_cast<std::size_t>(b0 + j) * K + k;
                    a[j][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xb), a[j][0]);
                    a[j][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xb + 8), a[j][1]);
                }
            }
            for (int j = 0; j < nb; ++j) {
                const __m256 t = _mm256_add_ps(a[j][0], a[j][1]);
                float s = hsum128(_mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
                const float* xb = x + static_cast<std::size_t>(b0 + j) * K;
                for (std::size_t kk = k; kk < K; ++kk) s += _cvtsh_ss(w[kk]) * xb[kk];
                y[static_cast<std::size_t>(b0 + j) * N + n] = s;
            }
        }
    }
}

float sum_avx2(const float* p, std::size_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
    }
    const __m256 t = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    float s = hsum128(_mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
    for (; i < n; ++i) s += p[i];
    return s;
}

void tile_row_outputs_avx2(float* acc, float* zacc, std::size_t r, int batch, float* y, std::size_t N) {
    const std::size_t stride = static_cast<std::size_t>(batch) * kAccLanes;  // between rows of one item
    const std::size_t whole = r / 8 * 8;
    const __m256 zero = _mm256_setzero_ps();
    for (int b = 0; b < batch; ++b) {
        float* a = acc + static_cast<std::size_t>(b) * kAccLanes;
        float* z = zacc + static_cast<std::size_t>(b) * r;
        float* yb = y + static_cast<std::size_t>(b) * N;
        for (std::size_t row = 0; row < whole; row += 8) {
            // Eight rows' lanes summed at once: three rounds of pairwise adds (vhaddps twice, then
            // the two 128-bit halves) leave row k's sum in lane k.
            float* p = a + row * stride;
            __m256 v[8];
            for (std::size_t k = 0; k < 8; ++k) {
                v[k] = _mm256_loadu_ps(p + k * stride);
                _mm256_storeu_ps(p + k * stride, zero);
            }
            const __m256 h01 = _mm256_hadd_ps(v[0], v[1]), h23 = _mm256_hadd_ps(v[2], v[3]);
            const __m256 h45 = _mm256_hadd_ps(v[4], v[5]), h67 = _mm256_hadd_ps(v[6], v[7]);
            // [r0 r1 r2 r3 | r0 r1 r2 r3] partial sums of the low and high halves, and for r4..r7.
            const __m256 q0 = _mm256_hadd_ps(h01, h23), q1 = _mm256_hadd_ps(h45, h67);
            const __m256 lo = _mm256_permute2f128_ps(q0, q1, 0x20), hi = _mm256_permute2f128_ps(q0, q1, 0x31);
            _mm256_storeu_ps(yb + row, _mm256_sub_ps(_mm256_add_ps(lo, hi), _mm256_loadu_ps(z + row)));
            _mm256_storeu_ps(z + row, zero);
        }
    }
    tile_row_outputs(acc, zacc, whole, r, batch, y, N);
}

std::uint64_t or_reduce_avx2(const std::uint8_t* p, std::size_t n) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    std::size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        a0 = _mm256_or_si256(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
        a1 = _mm256_or_si256(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
        a2 = _mm256_or_si256(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
        a3 = _mm256_or_si256(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
    }
    const __m256i t = _mm256_or_si256(_mm256_or_si256(a0, a1), _mm256_or_si256(a2, a3));
    std::uint64_t r = static_cast<std::uint64_t>(_mm256_extract_epi64(t, 0) | _mm256_extract_epi64(t, 1) |
                                                 _mm256_extract_epi64(t, 2) | _mm256_extract_epi64(t, 3));
    for (; i < n; ++i) r |= p[i];
    return r;
}

#endif  // !SCALEBITS_AVX512VL_VARIANT

}  // namespace scalebits::kernels::cpu
