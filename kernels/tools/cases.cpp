#include "cases.h"

#include <algorithm>
#include <cmath>

namespace scalebits::kernels::tool {

std::string width_name(int spec) {
    if (spec == kMixedAll) return "mixed2-8";
    if (spec == kMixed3) return "mixed";
    if (spec == kMixedDense) return "mixed2-8+fp16";
    if (spec == kMixed78) return "mixed7-8";
    return std::to_string(spec);
}

std::uint64_t next_random(std::uint64_t& s) {  // splitmix64: reproducible across platforms
    s += 0x9e3779b97f4a7c15ull;
    std::uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform01(std::uint64_t& s) { return static_cast<double>(next_random(s) >> 11) * 0x1.0p-53; }

std::uint8_t mixed_width(std::uint64_t& s, int spec) {
    if (spec == kMixedAll) return static_cast<std::uint8_t>(2 + next_random(s) % 7);
    if (spec == kMixedDense) {
        const unsigned r = static_cast<unsigned>(next_random(s) % 28);
        return static_cast<std::uint8_t>(r < 7 ? kDenseBits : 2 + r % 7);
    }
    if (spec == kMixed78) return static_cast<std::uint8_t>(7 + next_random(s) % 2);
    if (spec == kMixed3) {  // 2, 3, 4 with probabilities 1/4, 1/2, 1/4: mean 3 bits
        const unsigned r = static_cast<unsigned>(next_random(s) % 4);
        return static_cast<std::uint8_t>(r == 0 ? 2 : r == 3 ? 4 : 3);
    }
    return static_cast<std::uint8_t>(spec);
}

Case make_case(const TileGrid& grid, int width_spec, std::uint64_t seed) {
    Case c;
    c.grid = grid;
    std::uint64_t s = seed * 7919 + 17;
    c.widths.resize(grid.tile_count());
    for (auto& w : c.widths) w = mixed_width(s, width_spec);
    const std::size_t N = grid.rows, K = grid.cols, gpr = grid.groups_per_row();
    c.codes.resize(N * K);
    c.zeros.resize(N * gpr);
    c.scales.resize(N * gpr);
    for (std::size_t n = 0; n < N; ++n) {
        for (std::size_t gi = 0; gi < gpr; ++gi) {
            int b = c.widths[(n / grid.tile_rows) * grid.tiles_c() + (gi * grid.group) / grid.tile_cols];
            if (b == kDenseBits) b = 2;  // codes, scales and zeros of a dense tile are not stored
            const unsigned range = 1u << b;
            c.zeros[n * gpr + gi] = static_cast<std::uint8_t>(next_random(s) % range);
            // Scales like real weights (1e-3..3e-2) with an occasional negative sign to catch sign bugs.
            const double mag = 1e-3 * std::pow(30.0, uniform01(s));
            c.scales[n * gpr + gi] = static_cast<float>(next_random(s) % 16 == 0 ? -mag : mag);
            const std::size_t k1 = std::min(K, (gi + 1) * grid.group);
            for (std::size_t k = gi * grid.group; k < k1; ++k)
                c.codes[n * K + k] = static_cast<std::uint8_t>(next_random(s) % range);
        }
    }
    // Dense weights like real ones (+-3e-2), stored rounded to fp16 in the tiles kept at fp16.
    c.dense.resize(N * K);
    for (auto& w : c.dense) w = half_to_float(float_to_half(static_cast<float>((uniform01(s) * 2.0 - 1.0) * 3e-2)));
    c.packed = pack_matrix(grid, c.widths.data(), c.codes.data(), c.scales.data(), c.zeros.data(), c.dense.data());
    return c;
}

std::vector<float> random_activations(std::size_t n, std::uint64_t seed) {
    std::uint64_t s = seed * 104729 + 3;
    std::vector<float> x(n);
    for (auto& v : x) v = static_cast<float>(uniform01(s) * 2.0 - 1.0);
    return x;
}

Case make_edge_case(const TileGrid& grid, int width_spec, std::uint64_t seed) {
    Case c = make_case(grid, width_spec, seed);
    const std::size_t N = grid.rows, K = grid.cols, gpr = grid.groups_per_row();
    const float edge_scales[] = {65504.0f, -65504.0f, 0x1.0p-14f /* smallest normal fp16 */,
                                 0x1.0p-24f /* smallest subnormal fp16 */, -0x1.0p-24f};
    std::uint64_t s = seed * 31 + 5;
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t gi = 0; gi < gpr; ++gi) {
            const std::size_t pick = static_cast<std::size_t>(next_random(s) % 8);
            if (pick < 5) c.scales[n * gpr + gi] = edge_scales[pick];
            if (pick == 5)  // an all-zero group: every code at the zero point
                for (std::size_t k = gi * grid.group; k < std::min(K, (gi + 1) * grid.group); ++k)
                    c.codes[n * K + k] = c.zeros[n * gpr + gi];
        }
    c.packed = pack_matrix(grid, c.widths.data(), c.codes.data(), c.scales.data(), c.zeros.data(), c.dense.data());
    return c;
}

Case make_max_code_case(const TileGrid& grid, int width_spec, std::uint64_t seed) {
    Case c = make_case(grid, width_spec, seed);
    const std::size_t N = grid.rows, K = grid.cols;
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t k = 0; k < K; ++k) {
            const int b = c.widths[(n / grid.tile_rows) * grid.tiles_c() + k / grid.tile_cols];
            if (b != kDenseBits) c.codes[n * K + k] = static_cast<std::uint8_t>((1u << b) - 1u);
        }
    c.packed = pack_matrix(grid, c.widths.data(), c.codes.data(), c.scales.data(), c.zeros.data(), c.dense.data());
    return c;
}

std::vector<float> edge_activations(std::size_t batch, std::size_t K, std::uint64_t seed) {
    std::uint64_t s = seed * 104729 + 11;
    std::vector<float> x(batch * K);
    constexpr double kOneLarge = -1.0;  // 1e-20 everywhere but one value of 3
    // 1e-19 is just above the kernels' flush threshold (2^-64 = 5.4e-20), and all positive: a
    // subnormal product of scales would show as a bias, not average out over random signs.
    const double magnitude[] = {0.0, 1e-40, 1e-36, 1e-30, 1e-19, 1.0, 1e25, kOneLarge};
    constexpr std::size_t kClasses = sizeof(magnitude) / sizeof(magnitude[0]);
    // Item b < kClasses holds class b alone (a tiny class mixed with ordinary values would hide in
    // their rounding); later items change class block by block.
    for (std::size_t b = 0; b < batch; ++b)
        for (std::size_t k0 = 0, block = 0; k0 < K; k0 += 128, ++block) {
            const double m = magnitude[(b < kClasses ? b : b + block) % kClasses];
            const std::size_t k1 = std::min(K, k0 + 128), large = k0 + 37 % (k1 - k0);
            for (std::size_t k = k0; k < k1; ++k) {
                const double u = m == 1e-19 ? uniform01(s) : uniform01(s) * 2.0 - 1.0;
                x[b * K + k] = k % 16 == 5 ? 0.0f  // exact zeros in every class: 0 * (1 / amax) must stay 0
                                            : static_cast<float>(m != kOneLarge ? m * u : k == large ? 3.0 : 1e-20 * u);
            }
        }
    return x;
}

Bounds error_bounds(const Case& c, const float* x, int batch) {
    const std::size_t N = c.grid.rows, K = c.grid.cols, gpr = c.grid.groups_per_row();
    Bounds b;
    b.qz.assign(static_cast<std::size_t>(batch) * N, 0.0);
    b.absw.assign(static_cast<std::size_t>(batch) * N, 0.0);
    b.qzmax.assign(static_cast<std::size_t>(batch) * N, 0.0);
    b.sqz.assign(static_cast<std::size_t>(batch) * N, 0.0);
    std::vector<double> chunk_max(K);
    for (int bi = 0; bi < batch; ++bi) {
        const float* xb = x + static_cast<std::size_t>(bi) * K;
        // The optimized CPU paths round whole 128-column chunks of each tile and, on AVX2, its tail
        // columns as one more piece (others keep the tail in fp32, within the same bound).
        for (std::size_t k0 = 0; k0 < K; k0 += c.grid.tile_cols) {
            const std::size_t w = std::min(c.grid.tile_cols, K - k0);
            for (std::size_t j = 0; j < w; j += 128) {
                const std::size_t j1 = std::min(w, j + 128);
                double m = 0;
                for (std::size_t k = k0 + j; k < k0 + j1; ++k) m = std::max(m, std::fabs(static_cast<double>(xb[k])));
                std::fill(chunk_max.begin() + static_cast<std::ptrdiff_t>(k0 + j), chunk_max.begin() + static_cast<std::ptrdiff_t>(k0 + j1), m);
            }
        }
        for (std::size_t n = 0; n < N; ++n) {
            double qz = 0, aw = 0, qzmax = 0, sqz = 0;
            for (std::size_t k = 0; k < K; ++k) {
                const double ax = std::fabs(static_cast<double>(xb[k]));
                if (c.dense_tile(n, k)) {  // a plain fp32 product, no activation rounding
                    const double aw_k = std::fabs(static_cast<double>(c.dense[n * K + k])) * ax;
                    qz += aw_k;
                    aw += aw_k;
                    continue;
                }
                const std::size_t gi = n * gpr + k / c.grid.group;
                const double s = std::fabs(half_to_float(float_to_half(c.scales[gi])));
                const double q = c.codes[n * K + k], z = c.zeros[gi];
                qz += s * (q + z) * ax;
                aw += s * std::fabs(q - z) * ax;
                qzmax += s * (q + z) * chunk_max[k];
                sqz += s * (q + z);
            }
            const std::size_t i = static_cast<std::size_t>(bi) * N + n;
            b.qz[i] = qz;
            b.absw[i] = aw;
            b.qzmax[i] = qzmax;
            b.sqz[i] = sqz;
        }
    }
    return b;
}

double cpu_tolerance(double qz_bound, double qzmax_bound, double sqz_bound, std::size_t K) {
    // Both sides accumulate in fp32 in different orders; rounding errors grow like sqrt(K) u on
    // random data, with a safety factor of 16. The optimized paths also round activations per chunk
    // to integers in [-16383, 16383] (the byte kernels) or [-32767, 32767]: per term at most half a
    // step of the coarser one, amax / 32766 (a hair above 2^-15 of the chunk's largest |x|), plus
    // fp32's roundings of 1 / step, x / step and the step (3 u of amax, 4 counted). It holds in
    // the worst case, not only on random data: every term's rounding can reach it at once. A chunk
    // whose largest |x| is below 2^-64 counts as zero. The last term is fp32's subnormal spacing
    // (2^-149) for every partial sum: outputs of tiny activations are themselves subnormal.
    constexpr double kActivationRounding = 0.5 / 16383.0 + 4.0 * 0x1.0p-24;
    return 16.0 * 0x1.0p-24 * std::sqrt(static_cast<double>(K) + 16.0) * qz_bound + kActivationRounding * qzmax_bound +
           0x1.0p-64 * sqz_bound + 4.0 * static_cast<double>(K) * 0x1.0p-149;
}

double cuda_tolerance(double absw_bound, double qz_bound, std::size_t K) {
    // w rounded to fp16, each product rounded to fp16, 16 products summed in half2 before fp32:
    // at most ~6 half-precision roundings per term.
    return 6.0 * 0x1.0p-11 * absw_bound + cpu_tolerance(qz_bound, 0.0, 0.0, K);
}

}  // namespace scalebits::kernels::tool
