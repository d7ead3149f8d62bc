#include "core/eval/streamed_perplexity.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>

#include "core/model/model_ends.h"
#include "core/util/error.h"

namespace scalebits::eval {

namespace {

using clock = std::chrono::steady_clock;
double since(clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); }

void require_dense(const model::Checkpoint& ckpt) {
    if (!ckpt.packed.empty())
        throw InputError(ckpt.path, "layer-streamed evaluation reads dense weights; this is an exported (packed) model");
}

// Windows scored at once: their logits stay within 256 MiB.
std::int64_t score_batch(const model::ModelConfig& c, std::int64_t ctx) {
    return std::max<std::int64_t>(1, (std::int64_t(64) << 20) / std::max<std::int64_t>(1, ctx * c.vocab_size));
}

// log-softmax of the positions each window predicts, {b, ctx - 1, vocab}.
torch::Tensor log_probs(const model::StreamedHead& head, const torch::Tensor& h) {
    const torch::Tensor logits = head.logits(head.norm(h));
    return torch::log_softmax(logits.narrow(1, 0, logits.size(1) - 1), -1);
}

double nll_of(const torch::Tensor& logp, const torch::Tensor& ids) {
    const auto target = ids.narrow(1, 1, ids.size(1) - 1).unsqueeze(-1);
    return -logp.gather(-1, target).to(torch::kDouble).sum().item<double>();
}

PerplexityResult result_of(std::int64_t tokens, std::int64_t windows, std::int64_t ctx, double nll, double seconds) {
    PerplexityResult r;
    r.tokens = tokens;
    r.windows = windows;
    r.predicted = windows * (ctx - 1);
    r.nll_sum = nll;
    r.ppl = std::exp(nll / static_cast<double>(r.predicted));
    r.seconds = seconds;
    r.tokens_per_s = seconds > 0 ? static_cast<double>(windows * ctx) / seconds : 0.0;
    return r;
}

}  // namespace

PerplexityResult perplexity_streamed(const model::Checkpoint& ckpt, torch::Device device,
                                     const std::vector<std::int32_t>& tokens, const PerplexityOptions& options,
                                     const Progress& progress, std::uint64_t activation_bytes) {
    return perplexity_streamed(ckpt, checkpoint_layers(ckpt, device), device, tokens, options, progress, activation_bytes);
}

PerplexityResult perplexity_streamed(const model::Checkpoint& ckpt, const StreamedModel& model, torch::Device device,
                                     const std::vector<std::int32_t>& tokens, const PerplexityOptions& options,
                                     const Progress& progress, std::uint64_t activation_bytes) {
    require_dense(ckpt);
    torch::InferenceMode guard;
    const torch::Tensor windows = make_windows(tokens, options.ctx, options.max_windows);
    const model::StreamedHead head(model.ends ? *model.ends : ckpt);
    const std::int64_t sb = score_batch(ckpt.config, options.ctx);
    double nll = 0;
    const auto t0 = clock::now();
    forward_layer_outer(ckpt, device, windows, {model}, options.batch, activation_bytes, progress,
                        [&](std::int64_t first, const std::vector<torch::Tensor>& h) {
                            for (std::int64_t w = 0; w < h[0].size(0); w += sb) {
                                const std::int64_t b = std::min(sb, h[0].size(0) - w);
                                nll += nll_of(log_probs(head, h[0].narrow(0, w, b)), windows.narrow(0, first + w, b));
                            }
                            head.release();
                        });
    return result_of(static_cast<std::int64_t>(tokens.size()), windows.size(0), options.ctx, nll, since(t0));
}

StreamedReference::StreamedReference(const model::Checkpoint& ckpt, torch::Device device,
                                     const std::vector<std::int32_t>& tokens, const PerplexityOptions& options,
                                     const Progress& progress, std::uint64_t activation_bytes)
    : ckpt_(ckpt), device_(device), options_(options), activation_bytes_(activation_bytes) {
    require_dense(ckpt);
    torch::InferenceMode guard;
    windows_ = make_windows(tokens, options.ctx, options.max_windows);
    const std::int64_t n = windows_.size(0), ctx = options.ctx;
    final_ = torch::empty({n, ctx, ckpt.config.dim}, torch::kFloat);
    const model::StreamedHead head(ckpt);
    const std::int64_t sb = score_batch(ckpt.config, ctx);
    double nll = 0;
    const auto t0 = clock::now();
    forward_layer_outer(ckpt, device, windows_, {checkpoint_layers(ckpt, device)}, options.batch, activation_bytes, progress,
                        [&](std::int64_t first, const std::vector<torch::Tensor>& h) {
                            final_.narrow(0, first, h[0].size(0)).copy_(h[0]);
                            for (std::int64_t w = 0; w < h[0].size(0); w += sb) {
                                const std::int64_t b = std::min(sb, h[0].size(0) - w);
                                nll += nll_of(log_probs(head, h[0].narrow(0, w, b)), windows_.narrow(0, first + w, b));
                            }
                            head.release();
                        });
    baseline_ = result_of(static_cast<std::int64_t>(tokens.size()), n, ctx, nll, since(t0));
}

QualityResult compare_streamed(const StreamedModel& model, const StreamedReference& ref, const Progress& progress) {
    torch::InferenceMode guard;
    const model::Checkpoint& ckpt = ref.checkpoint();
    const model::StreamedHead head(model.ends ? *model.ends : ckpt), ref_head(ckpt);
    const std::int64_t ctx = ref.ctx(), n = ref.windows().size(0);
    const std::int64_t sb = score_batch(ckpt.config, ctx);
    double nll = 0, kl = 0, kl_max = 0;
    const auto t0 = clock::now();
    forward_layer_outer(ckpt, ref.device(), ref.windows(), {model}, ref.options().batch, ref.activation_bytes(), progress,
                        [&](std::int64_t first, const std::vector<torch::Tensor>& h) {
                            for (std::int64_t w = 0; w < h[0].size(0); w += sb) {
                                const std::int64_t b = std::min(sb, h[0].size(0) - w);
                                const torch::Tensor logq = log_probs(head, h[0].narrow(0, w, b));
                                const torch::Tensor logp = log_probs(ref_head, ref.final_hidden().narrow(0, first + w, b));
                                nll += nll_of(logq, ref.windows().narrow(0, first + w, b));
                                // KL(P || Q) per position = sum_v p_v (log p_v - log q_v), summed in double.
                                const torch::Tensor per_pos = (logp.exp() * (logp - logq)).sum(-1, false, torch::kDouble);
                                kl += per_pos.sum().item<double>();
                                kl_max = std::max(kl_max, per_pos.max().item<double>());
                            }
                            head.release();
                            ref_head.release();
                        });
    QualityResult q;
    q.ppl = result_of(ref.baseline().tokens, n, ctx, nll, since(t0));
    q.kl = kl / static_cast<double>(q.ppl.predicted);
    q.kl_max = kl_max;
    return q;
}

}  // namespace scalebits::eval
