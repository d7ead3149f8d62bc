#pragma once
// Quality of a (fake-)quantized model against its full-precision original on the same windows:
// perplexity and the KL divergence KL(P_fp || P_q) of the next-token distributions (DESIGN.md 2.5),
// averaged over every predicted position. The full-precision log-probabilities are computed once
// and kept in memory up to a cap; windows beyond it are recomputed with the full-precision model
// when they are needed, so any number of comparisons costs one full-precision pass when it fits.
#include <cstdint>
#include <vector>

#include "core/eval/perplexity.h"
#include "core/model/llama.h"
#include "core/util/cancel.h"

namespace scalebits::eval {

class ReferenceDistributions {
public:
    // `model` must outlive this object and keep its weights. Throws InputError when the text is
    // shorter than one window.
    ReferenceDistributions(const model::LlamaModel& model, const std::vector<std::int32_t>& tokens,
                           const PerplexityOptions& options, std::int64_t cache_bytes = std::int64_t{2} << 30,
                           const Progress& progress = {});

    const model::LlamaModel& model() const { return model_; }
    const torch::Tensor& windows() const { return windows_; }  // {windows, ctx} int64
    std::int64_t ctx() const { return ctx_; }
    // The full-precision model's own perplexity on the windows.
    const PerplexityResult& baseline() const { return baseline_; }
    std::int64_t cached_windows() const { return static_cast<std::int64_t>(cache_.size()); }

    // Log-probabilities {ctx - 1, vocab} (fp32) of the positions window w predicts.
    torch::Tensor log_probs(std::int64_t w) const;

private:
    const model::LlamaModel& model_;
    torch::Tensor windows_;
    std::int64_t ctx_ = 0;
    PerplexityResult baseline_;
    std::vector<torch::Tensor> cache_;  // the first cached_windows() windows
};

struct QualityResult {
    PerplexityResult ppl;
    double kl = 0.0;      // mean KL(P_fp || P_q) per predicted position, nats
    double kl_max = 0.0;  // largest per-position KL
};

// Scores `model` on the reference's windows.
QualityResult compare_to_reference(const model::LlamaModel& model, const ReferenceDistributions& reference,
                                   const Progress& progress = {});

}  // namespace scalebits::eval
