#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "core/eval/generate.h"
#include "core/util/error.h"

namespace scalebits::cli {

int cmd_generate(const Argv& argv) {
    auto opts = model_options();
    opts.insert({"prompt", "steps", "temperature"});
    Args args(argv, opts, {"json", "greedy", "no-bos"});
    if (args.get_double("temperature", 0.0) != 0.0)
        throw InputError("only greedy decoding (--temperature 0, --greedy) is supported");
    LoadedModel m = load_model(args, ModelWeights::WholeOrStreamed);
    const auto& tok = require_tokenizer(m.checkpoint);
    eval::GenerateOptions o;
    o.steps = args.get_int("steps", 64);
    // llama2.c always starts from BOS and, like its run.c, stops only at BOS.
    const bool llama2c = m.checkpoint.format == "llama2c";
    o.add_bos = !args.flag("no-bos") && tok.bos_id() >= 0 && (llama2c || tok.default_add_bos());
    o.stop_at_eos = !llama2c;
    const bool json = args.flag("json");
    auto stream = [&](const std::string& piece) {
        if (!json) std::cout << piece << std::flush;
    };
    const auto r = eval::generate_greedy(*m.model, tok, args.get_or("prompt", ""), o, stream);
    if (json) {
        print_json({{"text", r.text},
                    {"prompt_tokens", r.prompt_tokens},
                    {"tokens", r.tokens},
                    {"tokens_per_s", r.tokens_per_s},
                    {"load_s", m.load_seconds}});
    } else {
        std::cout << "\n";
        std::cerr << "achieved tok/s: " << r.tokens_per_s << "\n";
    }
    return 0;
}

}  // namespace scalebits::cli
