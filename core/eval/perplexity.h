#pragma once
// Perplexity as DESIGN.md 2.5 defines it: the whole text tokenized once (no BOS), cut into
// non-overlapping windows of ctx tokens (tail dropped), every position after the first of each
// window scored, ppl = exp(mean NLL over all predicted positions).
#include <cstdint>
#include <vector>

#include "core/model/llama.h"
#include "core/util/cancel.h"

namespace scalebits::eval {

struct PerplexityOptions {
    std::int64_t ctx = 512;
    std::int64_t max_windows = 0;  // 0 = all
    std::int64_t batch = 1;        // windows per forward pass
};

struct PerplexityResult {
    std::int64_t tokens = 0;     // tokens in the text
    std::int64_t windows = 0;    // windows evaluated
    std::int64_t predicted = 0;  // positions scored
    double nll_sum = 0.0;
    double ppl = 0.0;
    double seconds = 0.0;        // forward time
    double tokens_per_s = 0.0;   // tokens pushed through the model per second
};

// Throws InputError when the text is shorter than one window.
PerplexityResult perplexity(const model::LlamaModel& model, const std::vector<std::int32_t>& tokens,
                            const PerplexityOptions& options, const Progress& progress = {});

// The windows that perplexity() scores, as {windows, ctx} int64 (for KL and calibration reuse).
torch::Tensor make_windows(const std::vector<std::int32_t>& tokens, std::int64_t ctx, std::int64_t max_windows);

}  // namespace scalebits::eval
