#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "core/eval/perplexity.h"
#include "core/eval/streamed_perplexity.h"
#include "core/eval/text.h"
#include "core/eval/packed_perplexity.h"

namespace scalebits::cli {

int cmd_eval(const Argv& argv) {
    auto opts = model_options();
    opts.insert({"text", "ctx", "max-windows", "max-bytes", "batch", "activation-mb"});
    opts.insert("engine");
    Args args(argv, opts, {"json", "stream"});
    // Layer-outer over the windows (streamed_perplexity.h) when asked, or when the model in fp32
    // would take more than half the available memory; an exported model always runs whole (packed).
    LoadedModel m = load_model(args, ModelWeights::None);
    const bool stream = m.checkpoint.packed.empty() &&
                        (args.flag("stream") || !whole_model_fits(m.checkpoint.config));
    // An export runs on the decode engine (packed_decoder.h) unless --engine torch asks for the
    // LibTorch path, its reference.
    const std::string engine = args.get_or("engine", "auto");
    if (engine != "auto" && engine != "torch") throw InputError("--engine must be auto or torch, got '" + engine + "'");
    const bool native = !m.checkpoint.packed.empty() && engine == "auto";
    if (!stream && !native)
        m.model = std::make_unique<model::LlamaModel>(m.checkpoint, parse_device(args.get_or("device", "cpu")));
    const auto& tok = require_tokenizer(m.checkpoint);
    const std::string text = eval::read_text(args.require("text"), args.get_int("max-bytes", 0));
    const auto t0 = std::chrono::steady_clock::now();
    const auto tokens = eval::tokenize_text(tok, text);
    const double tokenize_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    eval::PerplexityOptions o;
    o.ctx = args.get_int("ctx", 512);
    o.max_windows = args.get_int("max-windows", 0);
    o.batch = args.get_int("batch", 1);
    const Progress progress = cli_progress();
    eval::PerplexityResult r;
    if (native) {
        if (args.get_or("device", "cpu") != "cpu")
            throw InputError("exported models run on the CPU decode engine in this build; use --device cpu");
        runtime::PackedDecoder decoder(m.checkpoint, std::min(o.ctx, m.checkpoint.config.max_seq_len));
        r = runtime::perplexity_packed(decoder, tokens, o, progress);
    } else if (stream) {
        r = eval::perplexity_streamed(m.checkpoint, parse_device(args.get_or("device", "cpu")), tokens, o, progress,
                                      activation_bytes(args));
    } else {
        r = eval::perplexity(*m.model, tokens, o, progress);
    }
    nlohmann::json j = {{"model", m.checkpoint.path.string()},
                        {"text", args.require("text")},
                        {"bytes", text.size()},
                        {"ctx", o.ctx},
                        {"tokens", r.tokens},
                        {"windows", r.windows},
                        {"predicted", r.predicted},
                        {"nll", r.nll_sum / static_cast<double>(r.predicted)},
                        {"ppl", r.ppl},
                        {"seconds", r.seconds},
                        {"tokens_per_s", r.tokens_per_s},
                        {"tokenize_s", tokenize_s},
                        {"load_s", m.load_seconds},
                        {"torch_threads", at::get_num_threads()},
                        {"streamed", stream},
                        {"engine", native ? "native" : "torch"},
                        {"peak_rss_mb", peak_rss_mb()}};
    if (args.flag("json")) {
        print_json(j);
    } else {
        std::printf("ppl %.4f over %lld windows of %lld tokens (%lld predicted), %.1f tokens/s\n", r.ppl,
                    static_cast<long long>(r.windows), static_cast<long long>(o.ctx),
                    static_cast<long long>(r.predicted), r.tokens_per_s);
    }
    return 0;
}

}  // namespace scalebits::cli
