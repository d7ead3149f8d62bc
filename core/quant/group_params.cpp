#include "core/quant/group_params.h"

#include <torch/torch.h>

#include <limits>

#include "core/util/error.h"

namespace scalebits::quant::detail {

at::Tensor round_scale_up_fp16(const at::Tensor& s) {
    auto c = s.to(torch::kFloat32).clamp(kMinScale, kMaxScale);
    auto h = c.to(torch::kFloat16);
    // Positive fp16 bit patterns are ordered like their values, so +1 on the pattern is the next
    // fp16 value up (also across the subnormal/normal border). c <= 65504 is itself an fp16
    // value, so the step never reaches infinity.
    auto below = (h.to(torch::kFloat32) < c).to(torch::kInt16);
    auto bits = h.view(torch::kInt16) + below;
    return bits.view(torch::kFloat16).to(torch::kFloat32);
}

at::Tensor round_scale_nearest_fp16(const at::Tensor& s) {
    return s.to(torch::kFloat32)
        .clamp(kMinScale, kMaxScale)
        .to(torch::kFloat16)
        .to(torch::kFloat32)
        .clamp(kMinScale, kMaxScale);
}

at::Tensor quantize_codes(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& zero,
                          const at::Tensor& maxq) {
    // x / scale can overflow to +-inf for huge x and tiny scales; round and clamp keep that finite.
    auto q = (x / scale).round_().add_(zero).clamp_min_(0.0);
    return torch::minimum(q, maxq);
}

at::Tensor dequantize_codes(const at::Tensor& q, const at::Tensor& scale, const at::Tensor& zero) {
    return (q - zero) * scale;
}

std::vector<float> checked_grid(const std::vector<float>& grid) {
    std::vector<float> out{1.0f};
    for (float p : grid) {
        if (!(p > 0.0f && p <= 1.0f))
            throw InputError("clip shrink factor " + std::to_string(p) + " is outside (0, 1]");
        if (p != 1.0f) out.push_back(p);
    }
    return out;
}

GroupParams search_group_params(const at::Tensor& x, const at::Tensor& maxq,
                                const at::Tensor& weight, const at::Tensor& valid,
                                const std::vector<float>& grid) {
    const float inf = std::numeric_limits<float>::infinity();
    at::Tensor xmin, xmax;
    if (valid.defined()) {
        xmin = x.masked_fill(valid.logical_not(), inf).amin(-1);
        xmax = x.masked_fill(valid.logical_not(), -inf).amax(-1);
    } else {
        xmin = x.amin(-1);
        xmax = x.amax(-1);
    }
    const auto lo = xmin.clamp_max(0.0);
    const auto hi = xmax.clamp_min(0.0);
    const auto constant = xmin == xmax;
    const auto const_scale = round_scale_nearest_fp16(xmin.abs());
    const auto const_zero = (xmin < 0).to(torch::kFloat32);
    const auto maxq3 = maxq.unsqueeze(-1);

    auto candidate = [&](float p) {
        auto s = round_scale_up_fp16((hi - lo) * p / maxq);
        auto z = torch::minimum((lo * (-p) / s).round_().clamp_min_(0.0), maxq);
        return GroupParams{torch::where(constant, const_scale, s),
                           torch::where(constant, const_zero, z)};
    };
    auto weighted_error = [&](const GroupParams& gp) {
        auto s3 = gp.scale.unsqueeze(-1), z3 = gp.zero.unsqueeze(-1);
        auto d = x - dequantize_codes(quantize_codes(x, s3, z3, maxq3), s3, z3);
        // Bounding d keeps d^2 finite for values near the float limit; with w >= 0 the product is
        // then finite or +inf, never NaN (0 * inf cannot happen).
        d.clamp_(-1e18, 1e18);
        d.mul_(d);
        if (weight.defined()) d.mul_(weight);
        return d.sum(-1);
    };

    const auto factors = checked_grid(grid);
    GroupParams best = candidate(factors.front());
    if (factors.size() == 1) return best;
    auto best_err = weighted_error(best);
    for (std::size_t i = 1; i < factors.size(); ++i) {
        auto gp = candidate(factors[i]);
        auto err = weighted_error(gp);
        auto better = err < best_err;  // strict: ties keep the earlier (wider) range
        best.scale = torch::where(better, gp.scale, best.scale);
        best.zero = torch::where(better, gp.zero, best.zero);
        best_err = torch::where(better, err, best_err);
    }
    return best;
}

}  // namespace scalebits::quant::detail
