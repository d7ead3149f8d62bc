#include "core/eval/perplexity.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>

#include "core/util/error.h"
#include "core/util/option_error.h"

namespace scalebits::eval {

torch::Tensor make_windows(const std::vector<std::int32_t>& tokens, std::int64_t ctx, std::int64_t max_windows) {
    if (ctx < 2) throw OptionError(Setting::Context, "a window needs at least 2 tokens of context");
    std::int64_t n = static_cast<std::int64_t>(tokens.size()) / ctx;
    if (n == 0)
        throw InputError("the text has " + std::to_string(tokens.size()) + " tokens, fewer than one window of " +
                         std::to_string(ctx));
    if (max_windows > 0) n = std::min(n, max_windows);
    auto all = torch::from_blob(const_cast<std::int32_t*>(tokens.data()), {n * ctx}, torch::kInt32);
    return all.to(torch::kLong).view({n, ctx});
}

PerplexityResult perplexity(const model::LlamaModel& model, const std::vector<std::int32_t>& tokens,
                            const PerplexityOptions& options, const Progress& progress) {
    torch::InferenceMode guard;
    PerplexityResult r;
    r.tokens = static_cast<std::int64_t>(tokens.size());
    const torch::Tensor windows = make_windows(tokens, options.ctx, options.max_windows);
    r.windows = windows.size(0);
    const std::int64_t batch = std::max<std::int64_t>(1, options.batch);
    double nll = 0.0;
    const auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t w = 0; w < r.windows; w += batch) {
        progress.checkpoint(static_cast<double>(w), static_cast<double>(r.windows), "perplexity");
        const std::int64_t b = std::min(batch, r.windows - w);
        torch::Tensor ids = windows.narrow(0, w, b);
        torch::Tensor logits = model.forward(ids);  // {b, ctx, vocab}
        auto logp = torch::log_softmax(logits.narrow(1, 0, options.ctx - 1), -1);
        auto target = ids.narrow(1, 1, options.ctx - 1).to(logp.device()).unsqueeze(-1);
        nll -= logp.gather(-1, target).to(torch::kDouble).sum().item<double>();
    }
    progress.checkpoint(static_cast<double>(r.windows), static_cast<double>(r.windows), "perplexity");
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.predicted = r.windows * (options.ctx - 1);
    r.nll_sum = nll;
    r.ppl = std::exp(nll / static_cast<double>(r.predicted));
    r.tokens_per_s = r.seconds > 0 ? static_cast<double>(r.windows * options.ctx) / r.seconds : 0.0;
    return r;
}

}  // namespace scalebits::eval
