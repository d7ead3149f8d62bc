#include "core/base/tensor_names.h"

namespace scalebits::model {

const char* linear_kind_name(LinearKind kind) {
    switch (kind) {
        case LinearKind::Q: return "q_proj";
        case LinearKind::K: return "k_proj";
        case LinearKind::V: return "v_proj";
        case LinearKind::O: return "o_proj";
        case LinearKind::Gate: return "gate_proj";
        case LinearKind::Up: return "up_proj";
        case LinearKind::Down: return "down_proj";
    }
    return "?";
}

namespace {
std::string linear_prefix(int layer, LinearKind kind) {
    const bool attn = kind == LinearKind::Q || kind == LinearKind::K || kind == LinearKind::V || kind == LinearKind::O;
    return "model.layers." + std::to_string(layer) + (attn ? ".self_attn." : ".mlp.") + linear_kind_name(kind);
}
}  // namespace

std::string linear_weight_name(int layer, LinearKind kind) { return linear_prefix(layer, kind) + ".weight"; }
std::string linear_bias_name(int layer, LinearKind kind) { return linear_prefix(layer, kind) + ".bias"; }

std::pair<std::int64_t, std::int64_t> linear_shape(const ModelConfig& c, LinearKind kind) {
    const std::int64_t q = c.n_heads * c.head_dim, kv = c.n_kv_heads * c.head_dim;
    switch (kind) {
        case LinearKind::Q: return {q, c.dim};
        case LinearKind::K: return {kv, c.dim};
        case LinearKind::V: return {kv, c.dim};
        case LinearKind::O: return {c.dim, q};
        case LinearKind::Gate: return {c.hidden_dim, c.dim};
        case LinearKind::Up: return {c.hidden_dim, c.dim};
        case LinearKind::Down: return {c.dim, c.hidden_dim};
    }
    return {0, 0};
}

std::vector<TensorSpec> canonical_tensors(const ModelConfig& c) {
    using Role = TensorSpec::Role;
    std::vector<TensorSpec> out;
    out.push_back({"model.embed_tokens.weight", {c.vocab_size, c.dim}, Role::Embedding});
    out.push_back({"model.norm.weight", {c.dim}, Role::FinalNorm});
    if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, c.dim}, Role::LmHead});
    for (int l = 0; l < static_cast<int>(c.n_layers); ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        out.push_back({p + "input_layernorm.weight", {c.dim}, Role::AttnNorm, l});
        out.push_back({p + "post_attention_layernorm.weight", {c.dim}, Role::FfnNorm, l});
        if (c.qk_norm) {
            out.push_back({p + "self_attn.q_norm.weight", {c.head_dim}, Role::QNorm, l});
            out.push_back({p + "self_attn.k_norm.weight", {c.head_dim}, Role::KNorm, l});
        }
        for (int k = 0; k < kLinearKinds; ++k) {
            const auto kind = static_cast<LinearKind>(k);
            const auto [rows, cols] = linear_shape(c, kind);
            out.push_back({linear_weight_name(l, kind), {rows, cols}, Role::LinearWeight, l, kind});
            if (c.has_bias(k)) out.push_back({linear_bias_name(l, kind), {rows}, Role::LinearBias, l, kind});
        }
    }
    return out;
}

}  // namespace scalebits::model
