#include <iostream>
#include <map>

#include "app/cli/commands.h"
#include "app/cli/common.h"

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
    nlohmann::json j = {
        {"path", ckpt.path.string()},
        {"format", ckpt.format},
        {"architecture", c.architecture},
        {"hidden_size", c.dim},
        {"intermediate_size", c.hidden_dim},
        {"num_hidden_layers", c.n_layers},
        {"num_attention_heads", c.n_heads},
        {"num_key_value_heads", c.n_kv_heads},
        {"head_dim", c.head_dim},
        {"vocab_size", c.vocab_size},
        {"max_seq_len", c.max_seq_len},
        {"rms_norm_eps", c.rms_norm_eps},
        {"rope_theta", c.rope_theta},
        {"tie_word_embeddings", c.tie_word_embeddings},
        {"tensors", ckpt.tensors.size()},
        {"parameters", params},
        {"weights_by_dtype", dtypes},
        {"tokenizer", ckpt.tokenizer ? nlohmann::json{{"kind", ckpt.tokenizer->kind()},
                                                       {"vocab_size", ckpt.tokenizer->vocab_size()},
                                                       {"bos_id", ckpt.tokenizer->bos_id()},
                                                       {"eos_id", ckpt.tokenizer->eos_id()}}
                                     : nlohmann::json(nullptr)},
    };
    if (args.flag("json")) {
        print_json(j);
        return 0;
    }
    std::cout << ckpt.path.string() << " (" << ckpt.format << ")\n"
              << "  " << c.architecture << ": " << c.n_layers << " layers, hidden " << c.dim << ", MLP "
              << c.hidden_dim << ", heads " << c.n_heads << " (" << c.n_kv_heads << " KV, head_dim " << c.head_dim
              << "), vocab " << c.vocab_size << (c.tie_word_embeddings ? ", tied embeddings" : "") << "\n"
              << "  " << ckpt.tensors.size() << " tensors, " << params << " parameters:";
    for (const auto& [d, n] : dtypes) std::cout << " " << d << "=" << n;
    std::cout << "\n";
    if (ckpt.tokenizer)
        std::cout << "  tokenizer: " << ckpt.tokenizer->kind() << ", " << ckpt.tokenizer->vocab_size() << " tokens\n";
    else
        std::cout << "  tokenizer: none (pass --tokenizer)\n";
    return 0;
}

}  // namespace scalebits::cli
