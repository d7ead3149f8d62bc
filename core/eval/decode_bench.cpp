#include "core/eval/decode_bench.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>

#include "core/util/error.h"
#include "core/util/option_error.h"

namespace scalebits::eval {

DecodeBenchResult bench_decode(runtime::PackedDecoder& decoder, const std::vector<std::int32_t>& prompt, std::int64_t steps,
                               const Progress& progress) {
    if (prompt.empty()) throw InputError("decode benchmark: empty prompt");
    if (steps < 1) throw OptionError(Setting::Steps, "the decode benchmark needs at least 1 step");
    const std::int64_t vocab = decoder.config().vocab_size;
    using clock = std::chrono::steady_clock;
    decoder.reset();
    DecodeBenchResult r;
    auto t0 = clock::now();
    const float* logits = decoder.forward(prompt.data(), static_cast<std::int64_t>(prompt.size()));
    auto next = static_cast<std::int32_t>(std::max_element(logits, logits + vocab) - logits);
    r.prefill_seconds = std::chrono::duration<double>(clock::now() - t0).count();
    t0 = clock::now();
    for (std::int64_t s = 0; s < steps; ++s) {
        progress.checkpoint(static_cast<double>(s), static_cast<double>(steps), "decoding");
        logits = decoder.forward(&next, 1);
        next = static_cast<std::int32_t>(std::max_element(logits, logits + vocab) - logits);
    }
    r.seconds = std::chrono::duration<double>(clock::now() - t0).count();
    r.steps = steps;
    r.tokens_per_s = static_cast<double>(steps) / r.seconds;
    return r;
}

DecodeBenchResult bench_decode(model::LlamaModel& model, const std::vector<std::int32_t>& prompt, std::int64_t steps,
                               const Progress& progress) {
    if (prompt.empty()) throw InputError("decode benchmark: empty prompt");
    if (steps < 1) throw OptionError(Setting::Steps, "the decode benchmark needs at least 1 step");
    if (static_cast<std::int64_t>(prompt.size()) + steps > model.config().max_seq_len)
        throw InputError("decode benchmark: prompt plus steps exceed the model's context of " +
                         std::to_string(model.config().max_seq_len));
    torch::InferenceMode guard;
    using clock = std::chrono::steady_clock;
    bool timing = false;
    clock::time_point entered;
    double in_linear = 0.0;
    std::array<double, model::kLinearKinds> per_kind{};
    model.set_input_observer([&](int, model::LinearKind, const torch::Tensor&) {
        if (timing) entered = clock::now();
    });
    model.set_output_observer([&](int, model::LinearKind kind, const torch::Tensor&) {
        if (!timing) return;
        const double dt = std::chrono::duration<double>(clock::now() - entered).count();
        in_linear += dt;
        per_kind[static_cast<std::size_t>(kind)] += dt;
    });
    DecodeBenchResult r;
    try {
        model::KVCache cache;
        std::vector<std::int64_t> ids(prompt.begin(), prompt.end());
        auto t0 = clock::now();
        torch::Tensor logits = model.forward(torch::tensor(ids, torch::kLong).view({1, -1}).to(model.device()), &cache);
        std::int64_t next = logits[0][-1].argmax().item<std::int64_t>();
        r.prefill_seconds = std::chrono::duration<double>(clock::now() - t0).count();
        timing = true;
        t0 = clock::now();
        for (std::int64_t s = 0; s < steps; ++s) {
            progress.checkpoint(static_cast<double>(s), static_cast<double>(steps), "decoding");
            logits = model.forward(torch::full({1, 1}, next, torch::kLong).to(model.device()), &cache);
            next = logits[0][-1].argmax().item<std::int64_t>();
        }
        r.seconds = std::chrono::duration<double>(clock::now() - t0).count();
    } catch (...) {
        model.set_input_observer({});
        model.set_output_observer({});
        throw;
    }
    model.set_input_observer({});
    model.set_output_observer({});
    r.steps = steps;
    r.tokens_per_s = static_cast<double>(steps) / r.seconds;
    r.linear_share = in_linear / r.seconds;
    r.kind_seconds = per_kind;
    return r;
}

}  // namespace scalebits::eval
