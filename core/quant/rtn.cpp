#include "core/quant/rtn.h"

#include <torch/torch.h>

#include "core/quant/group_params.h"
#include "core/util/error.h"

namespace scalebits::quant {

namespace detail {
at::Tensor checked_weight(const at::Tensor& w, const char* who) {
    if (!w.defined() || w.dim() != 2)
        throw InputError(std::string(who) + ": the weight must be a 2-D matrix");
    if (!w.is_floating_point()) throw InputError(std::string(who) + ": the weight must be floating point");
    auto f = w.to(torch::kFloat32).contiguous();
    if (!torch::isfinite(f).all().item<bool>())
        throw InputError(std::string(who) + ": the weight contains NaN or infinite values");
    return f;
}
}  // namespace detail

QuantizedMatrix quantize_rtn(const at::Tensor& w, const TileSpec& spec, const at::Tensor& tile_widths,
                             const ErrorWeights& weights, const RtnOptions& options) {
    const auto x2 = detail::checked_weight(w, "RTN");
    const std::int64_t rows = x2.size(0), cols = x2.size(1);
    spec.validate_shape(rows, cols);
    weights.validate(rows, cols);

    QuantizedMatrix out;
    out.rows = rows;
    out.cols = cols;
    out.spec = spec;
    out.widths = checked_widths(tile_widths, spec, rows, cols, x2.device());

    const std::int64_t groups = spec.groups_per_row(cols);
    const std::int64_t padded = groups * spec.group;
    namespace F = torch::nn::functional;
    auto x = (padded > cols ? F::pad(x2, F::PadFuncOptions({0, padded - cols})) : x2)
                 .view({rows, groups, spec.group});
    at::Tensor valid;
    if (padded > cols)
        valid = (torch::arange(padded, torch::TensorOptions().device(x2.device())) < cols)
                    .view({1, groups, spec.group});

    auto bits = group_widths(out.widths, spec, rows, cols).to(torch::kFloat32);
    auto maxq = torch::pow(2.0, bits) - 1.0;
    auto params = detail::search_group_params(
        x, maxq, weights.group_view(0, groups, spec.group, cols, x2.device()), valid,
        options.shrink_grid);

    auto codes = detail::quantize_codes(x, params.scale.unsqueeze(-1), params.zero.unsqueeze(-1),
                                        maxq.unsqueeze(-1));
    out.codes = codes.view({rows, padded}).slice(1, 0, cols).to(torch::kUInt8).contiguous();
    out.scales = params.scale.contiguous();
    out.zeros = params.zero.to(torch::kUInt8).contiguous();
    return out;
}

QuantizedMatrix quantize_rtn(const at::Tensor& w, const TileSpec& spec, int bits,
                             const ErrorWeights& weights, const RtnOptions& options) {
    if (!w.defined() || w.dim() != 2) throw InputError("RTN: the weight must be a 2-D matrix");
    return quantize_rtn(w, spec, uniform_widths(spec, w.size(0), w.size(1), bits), weights, options);
}

}  // namespace scalebits::quant
