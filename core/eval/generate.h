#pragma once
// Generation with a KV cache, following llama2.c's run.c loop: `steps` counts every position
// including the prompt, the prompt is forced (fed in one pass), generation stops at BOS (and EOS),
// and every token is printed through the tokenizer's decode_token(prev, next). Greedy by default,
// sampled with temperature / top-k / top-p and a seed (sampler.h). Any decoder runs it: the LibTorch
// model, or the packed decode engine of an export (core/runtime/packed_decoder.h).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/eval/sampler.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/cancel.h"

namespace scalebits::model {
class LlamaModel;  // core/model/llama.h; this header stays free of LibTorch (the lean runner links it)
}

namespace scalebits::eval {

struct GenerateOptions {
    std::int64_t steps = 64;
    bool add_bos = true;
    bool stop_at_eos = true;
    SamplingOptions sampling;  // greedy unless a temperature is given
};

struct GenerateResult {
    std::vector<std::int32_t> prompt_tokens;
    std::vector<std::int32_t> tokens;  // every token after the first, prompt included, as printed
    std::string text;                  // the printed text
    double seconds = 0.0;
    double tokens_per_s = 0.0;         // positions processed per second after the first
};

// A decoder as generation sees it: appends `n` tokens to its sequence and returns the logits of the
// last one (vocab floats, valid until the next call).
using NextLogits = std::function<const float*(const std::int32_t* tokens, std::int64_t n)>;

// on_piece receives each printed piece as soon as it is known (streaming output). `max_positions`:
// the decoder's context (steps beyond it are not taken).
GenerateResult generate(const NextLogits& decoder, std::int64_t vocab, std::int64_t max_positions,
                        const tokenizer::Tokenizer& tok, const std::string& prompt, const GenerateOptions& options,
                        const std::function<void(const std::string&)>& on_piece = {}, const Progress& progress = {});

// The LibTorch model as a NextLogits (it keeps its own KV cache); defined with the model, in
// model_steps.cpp.
NextLogits model_steps(const model::LlamaModel& model);

// generate() with model_steps(model).
GenerateResult generate_greedy(const model::LlamaModel& model, const tokenizer::Tokenizer& tok,
                               const std::string& prompt, const GenerateOptions& options,
                               const std::function<void(const std::string&)>& on_piece = {},
                               const Progress& progress = {});

}  // namespace scalebits::eval
