#include <cstdio>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "core/eval/decode_bench.h"
#include "core/eval/text.h"
#include "core/util/error.h"

namespace scalebits::cli {

// Decode speed of an exported (packed) model against the same weights dense, in one run.
int cmd_bench(const Argv& argv) {
    auto opts = model_options();
    opts.insert({"steps", "prompt-tokens", "text"});
    Args args(argv, opts, {"json"});
    LoadedModel m = load_model(args);
    if (m.checkpoint.packed.empty())
        throw InputError(args.require("model"), "is not an exported (packed) model; bench compares one with its dense "
                                                "weights (export one with `scalebits-cli export`)");
    const auto& tok = require_tokenizer(m.checkpoint);
    const std::int64_t steps = args.get_int("steps", 64);
    const auto n_prompt = static_cast<std::size_t>(args.get_int("prompt-tokens", 16));
    auto prompt = eval::tokenize_text(tok, eval::read_text(args.get_or("text", default_calib_text()), 20000));
    if (prompt.size() > n_prompt) prompt.resize(n_prompt);
    Progress progress;
    progress.report = print_progress;

    std::int64_t packed_bytes = 0, dense_bytes = 0;
    for (const auto& [name, p] : m.checkpoint.packed) {
        packed_bytes += static_cast<std::int64_t>(p.view.data_bytes + 9 * p.view.grid.tile_count());
        dense_bytes += static_cast<std::int64_t>(p.view.grid.rows * p.view.grid.cols * 4);
    }
    // Warm both once (page faults of the mapped file, allocator), then measure.
    eval::bench_decode(*m.model, prompt, 4);
    const auto packed = eval::bench_decode(*m.model, prompt, steps, progress);
    model::LlamaModel dense(model::dequantized_copy(m.checkpoint));
    eval::bench_decode(dense, prompt, 4);
    const auto fp32 = eval::bench_decode(dense, prompt, steps, progress);

    nlohmann::json j = {{"steps", steps},
                        {"prompt_tokens", prompt.size()},
                        {"packed", {{"tokens_per_s", packed.tokens_per_s}, {"linear_share", packed.linear_share},
                                    {"linear_weight_bytes", packed_bytes}}},
                        {"dense_fp32", {{"tokens_per_s", fp32.tokens_per_s}, {"linear_share", fp32.linear_share},
                                        {"linear_weight_bytes", dense_bytes}}},
                        {"speedup", packed.tokens_per_s / fp32.tokens_per_s}};
    if (args.flag("json")) {
        print_json(j);
    } else {
        std::printf("decode, batch 1, %lld steps after a %zu-token prompt\n", static_cast<long long>(steps), prompt.size());
        std::printf("  packed:     %8.1f tokens/s, %4.1f%% of the time in linear layers, %lld weight bytes\n",
                    packed.tokens_per_s, 100 * packed.linear_share, static_cast<long long>(packed_bytes));
        std::printf("  dense fp32: %8.1f tokens/s, %4.1f%% of the time in linear layers, %lld weight bytes\n",
                    fp32.tokens_per_s, 100 * fp32.linear_share, static_cast<long long>(dense_bytes));
        std::printf("  speedup x%.2f\n", packed.tokens_per_s / fp32.tokens_per_s);
    }
    return 0;
}

}  // namespace scalebits::cli
