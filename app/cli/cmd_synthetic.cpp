#include <chrono>
#include <cstdio>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "core/base/model_config.h"
#include "core/model/synthetic_model.h"
#include "core/util/error.h"

namespace scalebits::cli {

// A Llama-shaped model with random weights (synthetic_model.h) for memory and time measurements;
// defaults give the 0.3B shape (hidden 1024, MLP 4096, 16 layers) with SmolLM2's vocabulary size.
int cmd_make_synthetic(const Argv& argv) {
    Args args(argv, {"out", "hidden", "mlp", "layers", "heads", "kv-heads", "head-dim", "vocab", "dtype", "seed", "tokenizer-json"},
              {"tied", "json"});
    model::SyntheticModelOptions o;
    auto& c = o.config;
    c.dim = args.get_int("hidden", 1024);
    c.hidden_dim = args.get_int("mlp", 4096);
    c.n_layers = args.get_int("layers", 16);
    c.n_heads = args.get_int("heads", 16);
    c.n_kv_heads = args.get_int("kv-heads", 8);
    c.head_dim = args.get_int("head-dim", c.n_heads > 0 ? c.dim / c.n_heads : 0);
    c.vocab_size = args.get_int("vocab", 49152);
    c.max_seq_len = 8192;
    c.rope_theta = 500000.0;
    c.tie_word_embeddings = args.flag("tied");
    o.dtype = args.get_or("dtype", "BF16");
    for (auto& ch : o.dtype) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    o.seed = static_cast<std::uint64_t>(args.get_int("seed", 1));
    if (auto t = args.get("tokenizer-json")) o.tokenizer_json = *t;
    const std::string out = args.require("out");
    const auto t0 = std::chrono::steady_clock::now();
    const Progress progress = cli_progress();
    const model::SyntheticModelInfo info = model::write_synthetic_model(o, out, progress);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (args.flag("json")) {
        print_json({{"out", out}, {"parameters", info.parameters}, {"bytes", info.bytes}, {"seconds", seconds},
                    {"peak_rss_mb", peak_rss_mb()}});
    } else {
        std::printf("%s: %.3fB parameters, %.2f GB (%s), %.1f s\n", out.c_str(), static_cast<double>(info.parameters) / 1e9,
                    static_cast<double>(info.bytes) / 1e9, o.dtype.c_str(), seconds);
    }
    return 0;
}

}  // namespace scalebits::cli
