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
    // sum_j w (x - s t)^2 computed as s^2 * sum_j w (x/s - t)^2 with t = q - zero: the same codes as
    // quantize_codes (t = clamp(round(x/s), -zero, maxq - zero)) in 7 passes over the data instead
    // of 12, which is most of the RTN time. |x/s| is bounded first so that the square stays finite
    // for values near the float limit (only saturated groups reach the bound); with w >= 0 the
    // products are then finite or +inf, never NaN.
    // Two scratch buffers reused by every candidate (large fresh allocations page-fault each time).
    at::Tensor y = torch::empty(x.sizes(), x.options()), t = torch::empty(x.sizes(), x.options());
    auto weighted_error = [&](const GroupParams& gp) {
        auto s3 = gp.scale.unsqueeze(-1), z3 = gp.zero.unsqueeze(-1);
        torch::div_out(y, x, s3).clamp_(-1e12, 1e12);
        torch::round_out(t, y).clamp_(-z3, maxq3 - z3);
        t.sub_(y);
        t.mul_(t);
        if (weight.defined()) t.mul_(weight);
        return t.sum(-1).mul_(gp.scale.square());
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
