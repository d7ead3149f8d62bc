// The LibTorch decoder as generation's NextLogits (generate.h stays free of LibTorch).
#include "core/eval/generate.h"

#include <torch/torch.h>

#include <memory>

#include "core/model/llama.h"

namespace scalebits::eval {

NextLogits model_steps(const model::LlamaModel& model) {
    auto cache = std::make_shared<model::KVCache>();
    auto logits = std::make_shared<std::vector<float>>();
    return [&model, cache, logits](const std::int32_t* tokens, std::int64_t n) -> const float* {
        torch::InferenceMode guard;
        std::vector<std::int64_t> ids(tokens, tokens + n);
        const torch::Tensor out = model.forward(torch::tensor(ids).view({1, n}), cache.get());
        const torch::Tensor last = out[0][-1].to(torch::kCPU, torch::kFloat).contiguous();
        logits->assign(last.data_ptr<float>(), last.data_ptr<float>() + last.numel());
        return logits->data();
    };
}

GenerateResult generate_greedy(const model::LlamaModel& model, const tokenizer::Tokenizer& tok,
                               const std::string& prompt, const GenerateOptions& options,
                               const std::function<void(const std::string&)>& on_piece, const Progress& progress) {
    return generate(model_steps(model), model.config().vocab_size, model.config().max_seq_len, tok, prompt, options,
                    on_piece, progress);
}

}  // namespace scalebits::eval
