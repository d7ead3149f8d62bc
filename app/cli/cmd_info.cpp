#include <iostream>
#include <map>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "core/io/hf_config.h"

namespace scalebits::cli {

int cmd_info(const Argv& argv) {
    auto opts = model_options();
    Args args(argv, opts, {"json"});
    std::optional<std::filesystem::path> tok;
    if (auto t = args.get("tokenizer")) tok = *t;
    const model::Checkpoint ckpt = model::load_checkpoint(args.require("model"), tok);
    const auto& c = ckpt.config;
    std::map<std::string, std::int64_t> dtypes;
    std::int64_t params = 0;
    for (const auto& [name, t] : ckpt.tensors) {
        dtypes[io::dtype_name(t.dtype)] += t.numel();
        params += t.numel();
    }
    for (const auto& [name, p] : ckpt.packed) {
        const auto n = static_cast<std::int64_t>(p.view.grid.rows * p.view.grid.cols);
        dtypes["packed"] += n;
        params += n;
    }
    // The configuration under its Hugging Face names, then what the file holds.
    nlohmann::json j = io::hf_config_to_json(c);
    j["path"] = ckpt.path.string();
    j["format"] = ckpt.format;
    j["family"] = model::family_name(c.family);
    j["family_description"] = model::describe_family(c);
    j["max_seq_len"] = c.max_seq_len;
    j["tensors"] = ckpt.tensors.size() + ckpt.packed.size();
    j["parameters"] = params;
    j["weights_by_dtype"] = dtypes;
    if (!ckpt.quantization.is_null()) j["quantization_config"] = ckpt.quantization;
    j["tokenizer"] = ckpt.tokenizer ? nlohmann::json{{"kind", ckpt.tokenizer->kind()},
                                                     {"vocab_size", ckpt.tokenizer->vocab_size()},
                                                     {"bos_id", ckpt.tokenizer->bos_id()},
                                                     {"eos_id", ckpt.tokenizer->eos_id()}}
                                    : nlohmann::json(nullptr);
    if (args.flag("json")) {
        print_json(j);
        return 0;
    }
    std::cout << ckpt.path.string() << " (" << ckpt.format << ")\n"
              << "  " << model::describe_family(c) << ": " << c.n_layers << " layers, hidden " << c.dim << ", MLP "
              << c.hidden_dim << ", heads " << c.n_heads << " (" << c.n_kv_heads << " KV, head_dim " << c.head_dim
              << "), vocab " << c.vocab_size << (c.tie_word_embeddings ? ", tied embeddings" : "") << "\n"
              << "  " << ckpt.tensors.size() + ckpt.packed.size() << " tensors, " << params << " parameters:";
    for (const auto& [d, n] : dtypes) std::cout << " " << d << "=" << n;
    std::cout << "\n";
    if (!ckpt.quantization.is_null())
        std::cout << "  packed by scalebits: " << ckpt.quantization.value("method", "?") << ", "
                  << ckpt.quantization.value("avg_bits", 0.0) << " bits per weight\n";
    if (ckpt.tokenizer)
        std::cout << "  tokenizer: " << ckpt.tokenizer->kind() << ", " << ckpt.tokenizer->vocab_size() << " tokens\n";
    else
        std::cout << "  tokenizer: none (pass --tokenizer)\n";
    return 0;
}

}  // namespace scalebits::cli
