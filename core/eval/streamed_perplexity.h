#pragma once
// Perplexity and quality against the full-precision model without the whole model in memory:
// layer-outer over the windows (layer_stream.h), the lm_head applied in chunks of rows
// (model_ends.h). The same windows and scoring as perplexity() (perplexity.h) and
// compare_to_reference() (reference.h), so the same figures up to floating-point summation order;
// those whole-model versions are the references the tests compare these with.
#include <cstdint>
#include <vector>

#include "core/eval/layer_stream.h"
#include "core/eval/perplexity.h"
#include "core/eval/reference.h"
#include "core/model/checkpoint.h"

namespace scalebits::eval {

inline constexpr std::uint64_t kDefaultActivationBytes = std::uint64_t(1) << 30;

// Perplexity of `model` (the checkpoint's own layers when omitted) on `checkpoint`'s embedding and head.
PerplexityResult perplexity_streamed(const model::Checkpoint& checkpoint, torch::Device device,
                                     const std::vector<std::int32_t>& tokens, const PerplexityOptions& options,
                                     const Progress& progress = {}, std::uint64_t activation_bytes = kDefaultActivationBytes);
PerplexityResult perplexity_streamed(const model::Checkpoint& checkpoint, const StreamedModel& model, torch::Device device,
                                     const std::vector<std::int32_t>& tokens, const PerplexityOptions& options,
                                     const Progress& progress = {}, std::uint64_t activation_bytes = kDefaultActivationBytes);

// The full-precision side of a comparison, computed once: the windows and the final hidden states
// of every window ({windows, ctx, dim} fp32, windows x ctx x dim x 4 bytes: 0.5 GB for 64 windows of
// 512 at Llama-3-8B's width, far less than their next-token distributions), from which the
// distributions are recomputed through the chunked head when a model is scored against them.
class StreamedReference {
public:
    // Throws InputError when the text is shorter than one window. `checkpoint` must outlive this.
    StreamedReference(const model::Checkpoint& checkpoint, torch::Device device, const std::vector<std::int32_t>& tokens,
                      const PerplexityOptions& options, const Progress& progress = {},
                      std::uint64_t activation_bytes = kDefaultActivationBytes);

    const model::Checkpoint& checkpoint() const { return ckpt_; }
    torch::Device device() const { return device_; }
    const torch::Tensor& windows() const { return windows_; }
    std::int64_t ctx() const { return options_.ctx; }
    const PerplexityOptions& options() const { return options_; }
    std::uint64_t activation_bytes() const { return activation_bytes_; }
    const PerplexityResult& baseline() const { return baseline_; }
    const torch::Tensor& final_hidden() const { return final_; }

private:
    const model::Checkpoint& ckpt_;
    torch::Device device_;
    PerplexityOptions options_;
    std::uint64_t activation_bytes_;
    torch::Tensor windows_, final_;
    PerplexityResult baseline_;
};

// Scores `model` on the reference's windows: perplexity and KL(P_fp || P_model) per position.
QualityResult compare_streamed(const StreamedModel& model, const StreamedReference& reference, const Progress& progress = {});

}  // namespace scalebits::eval
