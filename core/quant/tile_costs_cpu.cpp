// The fused CPU pass of tile_costs (tile_costs.h): per row-group, every candidate width and every
// clip factor of the search, with the group's values in cache, instead of a dozen whole-matrix
// tensor passes per candidate. The arithmetic follows group_params.h operation by operation (the
// fp16 scale rule, the zero point, x / s rounded half to even and clamped to the grid), so only the
// order of the float sums differs from tile_costs_reference.
#include "core/quant/tile_costs.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include <scalebits/kernels.h>

#include "core/quant/group_params.h"
#include "core/util/error.h"

namespace scalebits::quant {

namespace {

float fp16_nearest(float v) {
    v = std::clamp(v, detail::kMinScale, detail::kMaxScale);
    return std::clamp(kernels::half_to_float(kernels::float_to_half(v)), detail::kMinScale, detail::kMaxScale);
}

// The smallest fp16 value >= v, clamped (round_scale_up_fp16).
float fp16_up(float v) {
    const float c = std::clamp(v, detail::kMinScale, detail::kMaxScale);
    std::uint16_t h = kernels::float_to_half(c);
    if (kernels::half_to_float(h) < c) ++h;  // positive patterns are ordered like their values
    return kernels::half_to_float(h);
}

// x rounded half to even, for |x| <= 2^22 (the callers clamp to the code grid first).
inline float round_even(float x) {
    const float magic = 12582912.0f;  // 1.5 * 2^23
    return (x + magic) - magic;
}

// sum_j w_j (t_j - y_j)^2 with y = clamp(x / s, +-1e12) and t = clamp(round(y), -z, maxq - z): the
// clip search's objective before its factor s^2. w == nullptr: every weight 1.
__attribute__((target_clones("avx2", "default"))) float search_error(const float* x, const float* w, int n, float s,
                                                                      float z, float maxq) {
    const float lo = -z, hi = maxq - z;
    float acc = 0.0f;
    for (int j = 0; j < n; ++j) {
        const float y = std::clamp(x[j] / s, -1e12f, 1e12f);
        const float t = std::clamp(round_even(std::clamp(y, lo - 1.0f, hi + 1.0f)), lo, hi);
        const float d = t - y;
        acc += (w ? w[j] : 1.0f) * d * d;
    }
    return acc;
}

// sum_j w_j (x_j - (q_j - z) s)^2 with q = min(max(round(x / s) + z, 0), maxq): the cost of the chosen
// parameters (quantize_codes, dequantize_codes) in double.
__attribute__((target_clones("avx2", "default"))) double group_cost(const float* x, const float* w, float wscale, int n,
                                                                     float s, float z, float maxq) {
    double acc = 0.0;
    for (int j = 0; j < n; ++j) {
        const float y = std::clamp(x[j] / s, -z - 1.0f, maxq - z + 1.0f);
        const float q = std::min(std::max(round_even(y) + z, 0.0f), maxq);
        const float e = x[j] - (q - z) * s;
        acc += static_cast<double>((w ? w[j] * wscale : wscale) * (e * e));
    }
    return acc;
}

}  // namespace

TileCostTable tile_costs(const at::Tensor& w, const TileSpec& spec, const std::vector<int>& widths,
                         const ErrorWeights& weights, const RtnOptions& options) {
    if (!w.defined() || !w.device().is_cpu()) return tile_costs_reference(w, spec, widths, weights, options);
    if (widths.empty()) throw InputError("tile costs: no candidate widths");
    for (int b : widths)
        if (b < kMinBits || b > kMaxBits)
            throw InputError("tile costs: width " + std::to_string(b) + " is outside 2..8");
    const at::Tensor x = detail::checked_weight(w, "tile costs");
    const std::int64_t N = x.size(0), K = x.size(1), g = spec.group;
    spec.validate_shape(N, K);
    weights.validate(N, K);
    const std::vector<float> grid = detail::checked_grid(options.shrink_grid);
    const std::int64_t gpr = spec.groups_per_row(K), gc = spec.grid_cols(K), nw = static_cast<std::int64_t>(widths.size());

    // Search weights: F's row (Full) or c (Factored: r_i scales every candidate of a row alike);
    // cost weights: F, or r_i * c_j.
    at::Tensor full, r, c;
    if (weights.kind() == ErrorWeights::Kind::Full) full = weights.full().to(torch::kCPU, torch::kFloat32).contiguous();
    if (weights.kind() == ErrorWeights::Kind::Factored) {
        r = weights.rows().to(torch::kCPU, torch::kFloat32).contiguous();
        c = weights.cols().to(torch::kCPU, torch::kFloat32).contiguous();
    }
    const float* xp = x.data_ptr<float>();
    const float* fp = full.defined() ? full.data_ptr<float>() : nullptr;
    const float* rp = r.defined() ? r.data_ptr<float>() : nullptr;
    const float* cp = c.defined() ? c.data_ptr<float>() : nullptr;

    TileCostTable table;
    table.rows = N;
    table.cols = K;
    table.spec = spec;
    table.widths = widths;
    table.group_costs = torch::zeros({N * gpr, nw}, torch::kFloat64);
    double* gcost = table.group_costs.data_ptr<double>();
    at::parallel_for(0, N, 8, [&](std::int64_t n0, std::int64_t n1) {
        for (std::int64_t n = n0; n < n1; ++n)
            for (std::int64_t gi = 0; gi < gpr; ++gi) {
                const std::int64_t k0 = gi * g;
                const int L = static_cast<int>(std::min(g, K - k0));
                const float* xs = xp + n * K + k0;
                const float* ws = fp ? fp + n * K + k0 : cp ? cp + k0 : nullptr;
                const float wscale = rp ? rp[n] : 1.0f;
                float xmin = xs[0], xmax = xs[0];
                for (int j = 1; j < L; ++j) {
                    xmin = std::min(xmin, xs[j]);
                    xmax = std::max(xmax, xs[j]);
                }
                const float lo = std::min(xmin, 0.0f), hi = std::max(xmax, 0.0f);
                for (std::int64_t wi = 0; wi < nw; ++wi) {
                    const float maxq = static_cast<float>((1 << widths[static_cast<std::size_t>(wi)]) - 1);
                    float s, z;
                    if (xmin == xmax) {
                        s = fp16_nearest(std::fabs(xmin));
                        z = xmin < 0 ? 1.0f : 0.0f;
                    } else {
                        auto candidate = [&](float p, float& cs, float& cz) {
                            cs = fp16_up((hi - lo) * p / maxq);
                            cz = std::min(std::max(std::nearbyint(lo * (-p) / cs), 0.0f), maxq);
                        };
                        candidate(grid[0], s, z);
                        if (grid.size() > 1) {
                            float best = search_error(xs, ws, L, s, z, maxq) * (s * s);
                            for (std::size_t i = 1; i < grid.size(); ++i) {
                                float cs, cz;
                                candidate(grid[i], cs, cz);
                                const float err = search_error(xs, ws, L, cs, cz, maxq) * (cs * cs);
                                if (err < best) {  // strict: ties keep the wider range
                                    best = err;
                                    s = cs;
                                    z = cz;
                                }
                            }
                        }
                    }
                    gcost[(n * gpr + gi) * nw + wi] = 0.5 * group_cost(xs, ws, wscale, L, s, z, maxq);
                }
            }
    });
    // Tiles: the sums of their groups.
    const std::int64_t gr = spec.grid_rows(N);
    table.costs = torch::zeros({gr * gc, nw}, torch::kFloat64);
    double* tc = table.costs.data_ptr<double>();
    for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t gi = 0; gi < gpr; ++gi) {
            const std::int64_t t = (n / spec.tile_rows) * gc + spec.tile_col_of_group(gi);
            for (std::int64_t wi = 0; wi < nw; ++wi) tc[t * nw + wi] += gcost[(n * gpr + gi) * nw + wi];
        }
    table.elements = tile_sums(torch::ones_like(x), spec).to(torch::kInt64);
    return table;
}

}  // namespace scalebits::quant
