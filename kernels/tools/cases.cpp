#include "cases.h"

#include <algorithm>
#include <cmath>

namespace scalebits::kernels::tool {

std::string width_name(int spec) {
    if (spec == kMixedAll) return "mixed2-8";
    if (spec == kMixed3) return "mixed";
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
            const int b = c.widths[(n / grid.tile_rows) * grid.tiles_c() + (gi * grid.group) / grid.tile_cols];
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
    c.packed = pack_matrix(grid, c.widths.data(), c.codes.data(), c.scales.data(), c.zeros.data());
    return c;
}

std::vector<float> random_activations(std::size_t n, std::uint64_t seed) {
    std::uint64_t s = seed * 104729 + 3;
    std::vector<float> x(n);
    for (auto& v : x) v = static_cast<float>(uniform01(s) * 2.0 - 1.0);
    return x;
}

Bounds error_bounds(const Case& c, const float* x, int batch) {
    const std::size_t N = c.grid.rows, K = c.grid.cols, gpr = c.grid.groups_per_row();
    Bounds b;
    b.qz.assign(static_cast<std::size_t>(batch) * N, 0.0);
    b.absw.assign(static_cast<std::size_t>(batch) * N, 0.0);
    b.qzmax.assign(static_cast<std::size_t>(batch) * N, 0.0);
    for (int bi = 0; bi < batch; ++bi) {
        double xmax = 0;
        for (std::size_t k = 0; k < K; ++k) xmax = std::max(xmax, std::fabs(static_cast<double>(x[static_cast<std::size_t>(bi) * K + k])));
        for (std::size_t n = 0; n < N; ++n) {
            double qz = 0, aw = 0, sqz = 0;
            for (std::size_t k = 0; k < K; ++k) {
                const std::size_t gi = n * gpr + k / c.grid.group;
                const double s = std::fabs(half_to_float(float_to_half(c.scales[gi])));
                const double q = c.codes[n * K + k], z = c.zeros[gi];
                const double ax = std::fabs(x[static_cast<std::size_t>(bi) * K + k]);
                qz += s * (q + z) * ax;
                aw += s * std::fabs(q - z) * ax;
                sqz += s * (q + z);
            }
            b.qz[static_cast<std::size_t>(bi) * N + n] = qz;
            b.absw[static_cast<std::size_t>(bi) * N + n] = aw;
            b.qzmax[static_cast<std::size_t>(bi) * N + n] = sqz * xmax;
        }
    }
    return b;
}

double cpu_tolerance(double qz_bound, double qzmax_bound, std::size_t K) {
    // Both sides accumulate in fp32 in different orders; rounding errors grow like sqrt(K) u on
    // random data, with a safety factor of 16. The optimized path also rounds activations to 15 or
    // 16 bits per chunk: at most 2^-15 of the largest |x| per term.
    return 16.0 * 0x1.0p-24 * std::sqrt(static_cast<double>(K) + 16.0) * qz_bound + 0x1.0p-15 * qzmax_bound + 1e-12;
}

double cuda_tolerance(double absw_bound, double qz_bound, std::size_t K) {
    // w rounded to fp16, each product rounded to fp16, 16 products summed in half2 before fp32:
    // at most ~6 half-precision roundings per term.
    return 6.0 * 0x1.0p-11 * absw_bound + cpu_tolerance(qz_bound, 0.0, K);
}

}  // namespace scalebits::kernels::tool
