#include "core/model/config.h"

#include "core/util/error.h"

namespace scalebits::model {

void ModelConfig::validate(const std::string& source) const {
    auto positive = [&](std::int64_t v, const char* field) {
        if (v <= 0) throw InputError(source, std::string("config field '") + field + "' is missing or not positive");
    };
    positive(dim, "hidden_size");
    positive(hidden_dim, "intermediate_size");
    positive(n_layers, "num_hidden_layers");
    positive(n_heads, "num_attention_heads");
    positive(n_kv_heads, "num_key_value_heads");
    positive(head_dim, "head_dim");
    positive(vocab_size, "vocab_size");
    positive(max_seq_len, "max_position_embeddings");
    // Generous sanity bounds: they stop absurd files before any allocation, not real models.
    if (dim > (1 << 20) || hidden_dim > (1 << 22) || n_layers > 4096 || n_heads > 4096 || head_dim > (1 << 16) ||
        vocab_size > (1 << 24))
        throw InputError(source, "config values are implausibly large");
    if (n_heads % n_kv_heads != 0)
        throw InputError(source, "num_attention_heads (" + std::to_string(n_heads) +
                                     ") is not a multiple of num_key_value_heads (" + std::to_string(n_kv_heads) + ")");
    if (head_dim % 2 != 0) throw InputError(source, "head_dim must be even for rotary embeddings");
    if (!(rms_norm_eps > 0.0) || !(rope_theta > 0.0))
        throw InputError(source, "rms_norm_eps and rope_theta must be positive");
}

}  // namespace scalebits::model
