#pragma once
// Greedy (temperature 0) generation with a KV cache, following llama2.c's run.c loop: `steps`
// counts every position including the prompt, the prompt is forced token by token, generation
// stops at BOS, and every token is printed through the tokenizer's decode_token(prev, next).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/model/llama.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/cancel.h"

namespace scalebits::eval {

struct GenerateOptions {
    std::int64_t steps = 64;
    bool add_bos = true;
    bool stop_at_eos = true;
};

struct GenerateResult {
    std::vector<std::int32_t> prompt_tokens;
    std::vector<std::int32_t> tokens;  // every token after the first, prompt included, as printed
    std::string text;                  // the printed text
    double seconds = 0.0;
    double tokens_per_s = 0.0;         // positions processed per second after the first
};

// on_piece receives each printed piece as soon as it is known (streaming output).
GenerateResult generate_greedy(const model::LlamaModel& model, const tokenizer::Tokenizer& tok,
                               const std::string& prompt, const GenerateOptions& options,
                               const std::function<void(const std::string&)>& on_piece = {},
                               const Progress& progress = {});

}  // namespace scalebits::eval
