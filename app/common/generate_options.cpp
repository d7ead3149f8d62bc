#include "app/common/generate_options.h"

#include <algorithm>

namespace scalebits::cli {

eval::GenerateOptions generate_options(const Args& args, const model::Checkpoint& checkpoint) {
    eval::GenerateOptions o;
    o.sampling.temperature = args.flag("greedy") ? 0.0 : args.get_double("temperature", 0.0);
    o.sampling.top_k = args.get_int("top-k", 0);
    o.sampling.top_p = args.get_double("top-p", 1.0);
    o.sampling.seed = static_cast<std::uint64_t>(args.get_int("seed", 0));
    o.sampling.validate();
    o.steps = args.get_int("steps", 64);
    const bool llama2c = checkpoint.format == "llama2c";
    const bool has_bos = checkpoint.tokenizer && checkpoint.tokenizer->bos_id() >= 0;
    o.add_bos = !args.flag("no-bos") && has_bos && (llama2c || checkpoint.tokenizer->default_add_bos());
    o.stop_at_eos = !llama2c;
    return o;
}

std::int64_t generate_positions(const eval::GenerateOptions& options, const model::Checkpoint& checkpoint) {
    const std::int64_t max = checkpoint.config.max_seq_len;
    return options.steps > 0 ? std::min(options.steps, max) : max;
}

}  // namespace scalebits::cli
