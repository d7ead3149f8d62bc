#include "core/eval/reference.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>

namespace scalebits::eval {

namespace {
torch::Tensor window_log_probs(const model::LlamaModel& model, const torch::Tensor& ids, std::int64_t ctx) {
    torch::Tensor logits = model.forward(ids.unsqueeze(0));  // {1, ctx, vocab}
    return torch::log_softmax(logits[0].narrow(0, 0, ctx - 1), -1).to(torch::kCPU).contiguous();
}

double window_nll(const torch::Tensor& logp, const torch::Tensor& ids, std::int64_t ctx) {
    auto target = ids.narrow(0, 1, ctx - 1).to(torch::kCPU).unsqueeze(-1);
    return -logp.gather(-1, target).to(torch::kDouble).sum().item<double>();
}
}  // namespace

ReferenceDistributions::ReferenceDistributions(const model::LlamaModel& model, const std::vector<std::int32_t>& tokens,
                                               const PerplexityOptions& options, std::int64_t cache_bytes,
                                               const Progress& progress)
    : model_(model), windows_(make_windows(tokens, options.ctx, options.max_windows)), ctx_(options.ctx) {
    torch::InferenceMode guard;
    const std::int64_t n = windows_.size(0);
    const std::int64_t per_window = (ctx_ - 1) * model.config().vocab_size * static_cast<std::int64_t>(sizeof(float));
    const std::int64_t keep = per_window > 0 ? std::min(n, cache_bytes / per_window) : 0;
    double nll = 0.0;
    const auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t w = 0; w < n; ++w) {
        progress.checkpoint(static_cast<double>(w), static_cast<double>(n), "full-precision reference");
        torch::Tensor logp = window_log_probs(model_, windows_[w], ctx_);
        nll += window_nll(logp, windows_[w], ctx_);
        if (w < keep) cache_.push_back(std::move(logp));
    }
    baseline_.tokens = static_cast<std::int64_t>(tokens.size());
    baseline_.windows = n;
    baseline_.predicted = n * (ctx_ - 1);
    baseline_.nll_sum = nll;
    baseline_.ppl = std::exp(nll / static_cast<double>(baseline_.predicted));
    baseline_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    baseline_.tokens_per_s = baseline_.seconds > 0 ? static_cast<double>(n * ctx_) / baseline_.seconds : 0.0;
}

torch::Tensor ReferenceDistributions::log_probs(std::int64_t w) const {
    if (w < cached_windows()) return cache_[static_cast<std::size_t>(w)];
    torch::InferenceMode guard;
    return window_log_probs(model_, windows_[w], ctx_);
}

QualityResult compare_to_reference(const model::LlamaModel& model, const ReferenceDistributions& ref,
                                   const Progress& progress) {
    torch::InferenceMode guard;
    QualityResult q;
    const std::int64_t n = ref.windows().size(0), ctx = ref.ctx();
    double nll = 0.0, kl = 0.0, kl_max = 0.0;
    const auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t w = 0; w < n; ++w) {
        progress.checkpoint(static_cast<double>(w), static_cast<double>(n), "perplexity and KL");
        const torch::Tensor ids = ref.windows()[w];
        const torch::Tensor logq = window_log_probs(model, ids, ctx);
        const torch::Tensor logp = ref.log_probs(w);
        nll += window_nll(logq, ids, ctx);
        // KL(P || Q) per position = sum_v p_v (log p_v - log q_v), summed in double.
        const torch::Tensor per_pos = (logp.exp() * (logp - logq)).sum(-1, false, torch::kDouble);
        kl += per_pos.sum().item<double>();
        kl_max = std::max(kl_max, per_pos.max().item<double>());
    }
    q.ppl.tokens = ref.baseline().tokens;
    q.ppl.windows = n;
    q.ppl.predicted = n * (ctx - 1);
    q.ppl.nll_sum = nll;
    q.ppl.ppl = std::exp(nll / static_cast<double>(q.ppl.predicted));
    q.ppl.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    q.ppl.tokens_per_s = q.ppl.seconds > 0 ? static_cast<double>(n * ctx) / q.ppl.seconds : 0.0;
    q.kl = kl / static_cast<double>(q.ppl.predicted);
    q.kl_max = kl_max;
    return q;
}

}  // namespace scalebits::eval
