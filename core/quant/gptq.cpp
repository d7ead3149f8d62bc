#include "core/quant/gptq.h"

#include <torch/torch.h>

#include <algorithm>
#include <tuple>

#include "core/quant/group_params.h"
#include "core/quant/rtn.h"
#include "core/util/error.h"

namespace scalebits::quant {

namespace {

// Upper Cholesky factor U of (H + damping)^-1 (so H^-1 = U^T U), in float64 for stability.
// Marks dead columns (H_jj == 0) in `dead`. Each float64 K x K intermediate is dropped as soon as
// the next exists (at K = 14336 one is 1.6 GB): at most two are alive at a time.
at::Tensor inverse_hessian_factor(const at::Tensor& hessian, std::int64_t cols, double percdamp,
                                  at::Tensor& dead) {
    if (!hessian.defined() || hessian.dim() != 2 || hessian.size(0) != cols ||
        hessian.size(1) != cols)
        throw InputError("GPTQ: the Hessian must be " + std::to_string(cols) + "x" +
                         std::to_string(cols));
    if (!(percdamp >= 0.0)) throw InputError("GPTQ: damping must be >= 0");
    if (!torch::isfinite(hessian).all().item<bool>())
        throw InputError("GPTQ: the Hessian contains NaN or infinite values");
    const auto diag0 = hessian.diagonal().to(torch::kFloat64);
    if ((diag0 < 0).any().item<bool>()) throw InputError("GPTQ: the Hessian has a negative diagonal");
    dead = diag0 == 0;
    const auto diag = diag0.masked_fill(dead, 1.0);
    double damp = percdamp * diag.mean().item<double>();
    if (damp <= 0.0) damp = 1e-8 * std::max(1.0, diag.abs().max().item<double>());
    double total = damp;
    for (int attempt = 0; attempt < 7; ++attempt) {
        // H with dead columns' diagonal at 1 and the damping added, rebuilt for each attempt.
        auto h = hessian.to(torch::kFloat64, /*non_blocking=*/false, /*copy=*/true);
        h.diagonal().copy_(diag + total);
        at::Tensor lower, info;
        std::tie(lower, info) = torch::linalg_cholesky_ex(h);
        h = at::Tensor();
        if (info.item<int>() == 0) {
            auto inv = torch::cholesky_inverse(lower);
            lower = at::Tensor();
            at::Tensor upper, info2;
            std::tie(upper, info2) = torch::linalg_cholesky_ex(inv, /*upper=*/true);
            inv = at::Tensor();
            if (info2.item<int>() == 0 && torch::isfinite(upper).all().item<bool>())
                return upper;
        }
        total += damp * 9.0;  // raise the total damping tenfold and retry
        damp *= 10.0;
    }
    throw InputError("GPTQ: the Hessian is not positive definite even with heavy damping");
}

}  // namespace

QuantizedMatrix quantize_gptq(const at::Tensor& w, const at::Tensor& hessian, const TileSpec& spec,
                              const at::Tensor& tile_widths, const ErrorWeights& weights,
                              const GptqOptions& options, const Progress* progress) {
    // K x N working copy (column j of W is row j here). clone, not contiguous(): for N == 1 the
    // transpose is already contiguous and would alias the caller's matrix, which GPTQ updates.
    auto wt = detail::checked_weight(w, "GPTQ").t().clone(at::MemoryFormat::Contiguous);
    const std::int64_t cols = wt.size(0), rows = wt.size(1);
    spec.validate_shape(rows, cols);
    weights.validate(rows, cols);
    const auto grid = detail::checked_grid(options.shrink_grid);
    if (options.block <= 0) throw InputError("GPTQ: the block size must be positive");

    QuantizedMatrix out;
    out.rows = rows;
    out.cols = cols;
    out.spec = spec;
    out.widths = checked_widths(tile_widths, spec, rows, cols, wt.device());

    at::Tensor dead;
    auto u = inverse_hessian_factor(hessian.to(wt.device()), cols, options.percdamp, dead)
                 .to(torch::kFloat32);
    wt.masked_fill_(dead.unsqueeze(1), 0.0f);
    // GptqOptions::compensated_clip: column j's error costs U_jj^-2 in the clip search.
    const at::Tensor column_cost = options.compensated_clip ? u.diagonal().square().reciprocal() : at::Tensor();
    auto clip_weights = [&](std::int64_t j, std::int64_t len) {
        return options.compensated_clip ? column_cost.slice(0, j, j + len).view({1, 1, len})
                                         : weights.group_view(j, 1, len, cols, wt.device());
    };

    const std::int64_t g = spec.group;
    const std::int64_t groups = spec.groups_per_row(cols);
    const auto maxq = torch::pow(2.0, group_widths(out.widths, spec, rows, cols).to(torch::kFloat32)) - 1.0;
    auto scales = torch::empty({rows, groups}, wt.options());
    auto zeros = torch::empty({rows, groups}, wt.options());
    auto codes_t = torch::empty({cols, rows}, wt.options());
    // Blocks hold whole groups, so a group's current values are all inside the working block.
    const std::int64_t block = g * std::max<std::int64_t>(1, (options.block + g / 2) / g);

    at::Tensor s_col, z_col, mq_col;
    for (std::int64_t b0 = 0; b0 < cols; b0 += block) {
        const std::int64_t b1 = std::min(cols, b0 + block), count = b1 - b0;
        auto w1 = wt.slice(0, b0, b1).clone();  // count x N, updated in place
        auto err1 = torch::zeros_like(w1);
        auto u1 = u.slice(0, b0, b1).slice(1, b0, b1);
        for (std::int64_t i = 0; i < count; ++i) {
            const std::int64_t j = b0 + i;
            if (j % g == 0) {
                const std::int64_t k = j / g, len = std::min(g, cols - j);
                auto current = w1.slice(0, i, i + len).t().unsqueeze(1);  // N x 1 x len
                mq_col = maxq.select(1, k);
                auto gp = detail::search_group_params(
                    current, mq_col.unsqueeze(1), clip_weights(j, len),
                    at::Tensor(), grid);
                s_col = gp.scale.squeeze(1);
                z_col = gp.zero.squeeze(1);
                scales.select(1, k).copy_(s_col);
                zeros.select(1, k).copy_(z_col);
            }
            auto col = w1.select(0, i);
            auto q = detail::quantize_codes(col, s_col, z_col, mq_col);
            codes_t.select(0, b0 + i).copy_(q);
            auto e = (col - detail::dequantize_codes(q, s_col, z_col)).div_(u1.select(0, i).select(0, i));
            if (i + 1 < count) w1.slice(0, i + 1, count).addr_(u1.select(0, i).slice(0, i + 1, count), e, 1.0, -1.0);
            err1.select(0, i).copy_(e);
        }
        if (b1 < cols) wt.slice(0, b1, cols).addmm_(u.slice(0, b0, b1).slice(1, b1, cols).t(), err1, 1.0, -1.0);
        if (progress) progress->checkpoint(static_cast<double>(b1), static_cast<double>(cols), "GPTQ");
    }

    out.codes = codes_t.t().to(torch::kUInt8).contiguous();
    out.scales = scales;
    out.zeros = zeros.to(torch::kUInt8).contiguous();
    return out;
}

QuantizedMatrix quantize_gptq(const at::Tensor& w, const at::Tensor& hessian, const TileSpec& spec,
                              int bits, const ErrorWeights& weights, const GptqOptions& options,
                              const Progress* progress) {
    if (!w.defined() || w.dim() != 2) throw InputError("GPTQ: the weight must be a 2-D matrix");
    return quantize_gptq(w, hessian, spec, uniform_widths(spec, w.size(0), w.size(1), bits), weights,
                         options, progress);
}

double output_error(const at::Tensor& a, const at::Tensor& b, const at::Tensor& hessian) {
    auto d = (a.to(torch::kFloat64) - b.to(torch::kFloat64));
    return (d.matmul(hessian.to(torch::kFloat64)) * d).sum().item<double>();
}

}  // namespace scalebits::quant
