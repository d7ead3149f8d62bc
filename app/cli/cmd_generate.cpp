#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "app/common/generate_options.h"
#include "core/eval/generate.h"
#include "core/runtime/packed_decoder.h"
#include "core/util/error.h"

namespace scalebits::cli {

int cmd_generate(const Argv& argv) {
    auto opts = model_options();
    opts.insert(kGenerateOptions.begin(), kGenerateOptions.end());
    opts.insert("engine");
    auto flags = kGenerateFlags;
    flags.insert("json");
    Args args(argv, opts, flags);
    // An export runs on the decode engine unless --engine torch asks for the LibTorch path (its
    // reference); a dense checkpoint always runs on LibTorch.
    const std::string engine = args.get_or("engine", "auto");
    if (engine != "auto" && engine != "native" && engine != "torch")
        throw InputError("--engine must be auto, native or torch, got '" + engine + "'");
    LoadedModel m = load_model(args, ModelWeights::None);
    const bool native = !m.checkpoint.packed.empty() && engine != "torch";
    if (engine == "native" && m.checkpoint.packed.empty())
        throw InputError(m.checkpoint.path, "is not an exported model; the native engine runs exports");
    const auto& tok = require_tokenizer(m.checkpoint);
    const eval::GenerateOptions o = generate_options(args, m.checkpoint);
    const bool json = args.flag("json");
    auto stream = [&](const std::string& piece) {
        if (!json) std::cout << piece << std::flush;
    };
    const auto& c = m.checkpoint.config;
    const std::int64_t positions = generate_positions(o, m.checkpoint);
    std::unique_ptr<runtime::PackedDecoder> decoder;
    eval::NextLogits steps;
    if (native) {
        decoder = std::make_unique<runtime::PackedDecoder>(m.checkpoint, positions);
        steps = [&decoder](const std::int32_t* t, std::int64_t n) { return decoder->forward(t, n); };
    } else {
        m.model = make_model(m.checkpoint, parse_device(args.get_or("device", "cpu")), ModelWeights::WholeOrStreamed);
        steps = eval::model_steps(*m.model);
    }
    const auto r = eval::generate(steps, c.vocab_size, positions, tok, args.get_or("prompt", ""), o, stream);
    if (json) {
        print_json({{"text", r.text},
                    {"prompt_tokens", r.prompt_tokens},
                    {"tokens", r.tokens},
                    {"tokens_per_s", r.tokens_per_s},
                    {"engine", native ? "native" : "torch"},
                    {"load_s", m.load_seconds}});
    } else {
        std::cout << "\n";
        std::cerr << "achieved tok/s: " << r.tokens_per_s << " (" << (native ? "native engine" : "LibTorch") << ")\n";
    }
    return 0;
}

}  // namespace scalebits::cli
