#include "core/eval/packed_perplexity.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>

#include "core/util/error.h"

namespace scalebits::runtime {

eval::PerplexityResult perplexity_packed(PackedDecoder& decoder, const std::vector<std::int32_t>& tokens,
                                         const eval::PerplexityOptions& options, const Progress& progress) {
    const std::int64_t ctx = options.ctx, vocab = decoder.config().vocab_size;
    if (ctx > decoder.max_context())
        throw InputError("windows of " + std::to_string(ctx) + " tokens exceed the decoder's context of " +
                         std::to_string(decoder.max_context()));
    const torch::Tensor windows = eval::make_windows(tokens, ctx, options.max_windows);  // the one definition of the windows
    const std::int64_t n = windows.size(0);
    constexpr std::int64_t kPiece = 32;
    std::vector<float> logits(static_cast<std::size_t>(kPiece * vocab));
    std::vector<std::int32_t> ids(static_cast<std::size_t>(ctx));
    double nll = 0.0;
    const auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t w = 0; w < n; ++w) {
        progress.checkpoint(static_cast<double>(w), static_cast<double>(n), "perplexity (decode engine)");
        const auto row = windows[w].to(torch::kLong).contiguous();
        for (std::int64_t i = 0; i < ctx; ++i) ids[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(row.data_ptr<std::int64_t>()[i]);
        decoder.reset();
        for (std::int64_t p0 = 0; p0 < ctx - 1; p0 += kPiece) {
            const std::int64_t m = std::min(kPiece, ctx - 1 - p0);  // the last position predicts nothing
            decoder.forward(ids.data() + p0, m, logits.data());
            for (std::int64_t j = 0; j < m; ++j) {
                // -log softmax(logits)[next] = logsumexp - logit[next], in double.
                const float* l = logits.data() + j * vocab;
                double mx = l[0];
                for (std::int64_t v = 1; v < vocab; ++v) mx = std::max(mx, static_cast<double>(l[v]));
                double sum = 0.0;
                for (std::int64_t v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(l[v]) - mx);
                nll += mx + std::log(sum) - l[ids[static_cast<std::size_t>(p0 + j + 1)]];
            }
        }
    }
    eval::PerplexityResult r;
    r.tokens = static_cast<std::int64_t>(tokens.size());
    r.windows = n;
    r.predicted = n * (ctx - 1);
    r.nll_sum = nll;
    r.ppl = std::exp(nll / static_cast<double>(r.predicted));
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.tokens_per_s = r.seconds > 0 ? static_cast<double>(n * ctx) / r.seconds : 0.0;
    return r;
}

}  // namespace scalebits::runtime
