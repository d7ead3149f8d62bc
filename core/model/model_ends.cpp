#include "core/model/model_ends.h"

#include <torch/torch.h>

#include "core/model/llama.h"
#include "core/util/error.h"

namespace scalebits::model {

torch::Tensor embed_tokens(const Checkpoint& ckpt, const torch::Tensor& tokens) {
    const io::HostTensor& e = ckpt.tensor("model.embed_tokens.weight");
    const std::int64_t dim = ckpt.config.dim, rows = e.shape.at(0);
    const auto ids = tokens.to(torch::kCPU, torch::kLong).contiguous();
    torch::Tensor h = torch::empty({ids.size(0), ids.size(1), dim}, torch::kFloat);
    const std::int64_t* id = ids.data_ptr<std::int64_t>();
    float* dst = h.data_ptr<float>();
    for (std::int64_t i = 0; i < ids.numel(); ++i) {
        if (id[i] < 0 || id[i] >= rows)
            throw InputError("token id " + std::to_string(id[i]) + " is outside the vocabulary (" + std::to_string(rows) + ")");
        e.rows_to_float(id[i], 1, dst + i * dim);
    }
    e.release_pages();
    return h;
}

StreamedHead::StreamedHead(const Checkpoint& ckpt)
    : weight_(&ckpt.tensor(ckpt.config.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight")),
      eps_(ckpt.config.rms_norm_eps),
      dim_(ckpt.config.dim),
      vocab_(ckpt.config.vocab_size),
      chunk_rows_(std::max<std::int64_t>(1, (std::int64_t(16) << 20) / std::max<std::int64_t>(1, ckpt.config.dim))) {
    norm_weight_ = torch::empty({dim_}, torch::kFloat);
    ckpt.tensor("model.norm.weight").rows_to_float(0, dim_, norm_weight_.data_ptr<float>());
}

torch::Tensor StreamedHead::norm(const torch::Tensor& h) const { return rms_norm(h, norm_weight_, eps_); }

torch::Tensor StreamedHead::chunk(std::int64_t first, std::int64_t rows) const {
    torch::Tensor w = torch::empty({rows, dim_}, torch::kFloat);
    weight_->rows_to_float(first, rows, w.data_ptr<float>());
    return w;
}

torch::Tensor StreamedHead::logits(const torch::Tensor& hn) const {
    torch::NoGradGuard no_grad;
    auto shape = hn.sizes().vec();
    shape.back() = vocab_;
    torch::Tensor out = torch::empty(shape, torch::kFloat);
    const auto x = hn.detach().to(torch::kCPU, torch::kFloat);
    for (std::int64_t r0 = 0; r0 < vocab_; r0 += chunk_rows_) {
        const std::int64_t rows = std::min(chunk_rows_, vocab_ - r0);
        out.narrow(-1, r0, rows).copy_(torch::matmul(x, chunk(r0, rows).t()));
    }
    return out;
}

torch::Tensor StreamedHead::backward(const torch::Tensor& dlogits) const {
    torch::NoGradGuard no_grad;
    auto shape = dlogits.sizes().vec();
    shape.back() = dim_;
    torch::Tensor out = torch::zeros(shape, torch::kFloat);
    for (std::int64_t r0 = 0; r0 < vocab_; r0 += chunk_rows_) {
        const std::int64_t rows = std::min(chunk_rows_, vocab_ - r0);
        out.add_(torch::matmul(dlogits.narrow(-1, r0, rows), chunk(r0, rows)));
    }
    return out;
}

void StreamedHead::release() const { weight_->release_pages(); }

}  // namespace scalebits::model
