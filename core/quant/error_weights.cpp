#include "core/quant/error_weights.h"

#include <torch/torch.h>

#include "core/util/error.h"

namespace scalebits::quant {

namespace {
void check_values(const at::Tensor& t, const std::string& what) {
    if (!torch::isfinite(t).all().item<bool>()) throw InputError(what + " contains NaN or infinite values");
    if ((t < 0).any().item<bool>()) throw InputError(what + " has negative values");
}
}  // namespace

ErrorWeights ErrorWeights::fisher(const at::Tensor& f) {
    if (!f.defined()) return none();
    ErrorWeights w;
    w.kind_ = Kind::Full;
    w.full_ = f.to(torch::kFloat32).contiguous();
    return w;
}

ErrorWeights ErrorWeights::factored(const at::Tensor& r, const at::Tensor& c) {
    if (!r.defined() || !c.defined())
        throw InputError("factored sensitivity needs both r (rows) and c (columns)");
    ErrorWeights w;
    w.kind_ = Kind::Factored;
    w.rows_ = r.to(torch::kFloat32).reshape({-1}).contiguous();
    w.cols_ = c.to(torch::kFloat32).reshape({-1}).contiguous();
    return w;
}

void ErrorWeights::validate(std::int64_t rows, std::int64_t cols) const {
    switch (kind_) {
    case Kind::None:
        return;
    case Kind::Full:
        if (full_.dim() != 2 || full_.size(0) != rows || full_.size(1) != cols)
            throw InputError("Fisher weights have shape " + std::to_string(full_.size(0)) + "x" +
                             std::to_string(full_.dim() == 2 ? full_.size(1) : 0) +
                             ", expected " + std::to_string(rows) + "x" + std::to_string(cols));
        check_values(full_, "Fisher weights");
        return;
    case Kind::Factored:
        if (rows_.size(0) != rows || cols_.size(0) != cols)
            throw InputError("factored sensitivity has " + std::to_string(rows_.size(0)) +
                             " row and " + std::to_string(cols_.size(0)) +
                             " column factors, expected " + std::to_string(rows) + " and " +
                             std::to_string(cols));
        check_values(rows_, "row sensitivity r");
        check_values(cols_, "column sensitivity c");
        return;
    }
}

at::Tensor ErrorWeights::apply(const at::Tensor& e2) const {
    switch (kind_) {
    case Kind::Full:
        return e2 * full_.to(e2.device());
    case Kind::Factored:
        return e2 * rows_.to(e2.device()).unsqueeze(1) * cols_.to(e2.device()).unsqueeze(0);
    case Kind::None:
        break;
    }
    return e2;
}

at::Tensor ErrorWeights::group_view(std::int64_t col0, std::int64_t groups, std::int64_t group,
                                    std::int64_t total_cols, const at::Device& device) const {
    if (kind_ == Kind::None) return {};
    const std::int64_t width = groups * group;
    const std::int64_t col1 = std::min(total_cols, col0 + width);
    const std::int64_t pad = col0 + width - col1;
    namespace F = torch::nn::functional;
    if (kind_ == Kind::Full) {
        auto part = full_.slice(1, col0, col1).to(device);
        if (pad > 0) part = F::pad(part, F::PadFuncOptions({0, pad}));
        return part.reshape({part.size(0), groups, group});
    }
    auto part = cols_.slice(0, col0, col1).to(device);
    if (pad > 0) part = F::pad(part, F::PadFuncOptions({0, pad}));
    return part.reshape({1, groups, group});
}

}  // namespace scalebits::quant
