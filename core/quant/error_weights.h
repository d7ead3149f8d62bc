#pragma once
// Per-weight importance used by the clip search and by the per-tile cost tables: either the
// diagonal empirical Fisher F (N x K), its factored form F_ij = r_i * c_j (N + K numbers, never
// expanded to N x K), or nothing (plain squared error, every weight counts 1).
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace scalebits::quant {

class ErrorWeights {
public:
    enum class Kind { None, Full, Factored };

    ErrorWeights() = default;
    static ErrorWeights none() { return {}; }
    static ErrorWeights fisher(const at::Tensor& f);
    static ErrorWeights factored(const at::Tensor& r, const at::Tensor& c);

    Kind kind() const { return kind_; }
    bool empty() const { return kind_ == Kind::None; }

    // Throws InputError when the shapes do not fit an N x K matrix or a value is negative,
    // NaN or infinite.
    void validate(std::int64_t rows, std::int64_t cols) const;

    // weights * e2 for an N x K tensor of squared errors (float32), broadcasting the factored form.
    at::Tensor apply(const at::Tensor& e2) const;

    // Weights for the groups of columns [col0, col0 + G*g) seen as [N, G, g] (columns past K are
    // zero-padded). Broadcastable to [N, G, g]; undefined for Kind::None. For the factored form
    // only c is used: r_i >= 0 scales every candidate of a row's group alike, so it cannot change
    // which clip candidate wins.
    at::Tensor group_view(std::int64_t col0, std::int64_t groups, std::int64_t group,
                          std::int64_t total_cols, const at::Device& device) const;

    // The stored tensors: F (Full), r and c (Factored); undefined otherwise.
    const at::Tensor& full() const { return full_; }
    const at::Tensor& rows() const { return rows_; }
    const at::Tensor& cols() const { return cols_; }

private:
    Kind kind_ = Kind::None;
    at::Tensor full_, rows_, cols_;
};

}  // namespace scalebits::quant
