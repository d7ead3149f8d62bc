#include "core/io/gguf_llama.h"

#include <regex>

#include "core/io/rope_layout.h"
#include "core/base/tensor_names.h"
#include "core/util/error.h"

namespace scalebits::io {

std::optional<std::string> canonical_gguf_name(const std::string& n) {
    static const std::map<std::string, std::string> global = {
        {"token_embd.weight", "model.embed_tokens.weight"},
        {"output_norm.weight", "model.norm.weight"},
        {"output.weight", "lm_head.weight"},
    };
    // llama.cpp's per-layer names (weights; biases where a family has them; Qwen3's head norms).
    static const std::map<std::string, std::string> per_layer = {
        {"attn_q", "self_attn.q_proj"},  {"attn_k", "self_attn.k_proj"},   {"attn_v", "self_attn.v_proj"},
        {"attn_output", "self_attn.o_proj"}, {"ffn_gate", "mlp.gate_proj"}, {"ffn_up", "mlp.up_proj"},
        {"ffn_down", "mlp.down_proj"},   {"attn_norm", "input_layernorm"}, {"ffn_norm", "post_attention_layernorm"},
        {"attn_q_norm", "self_attn.q_norm"}, {"attn_k_norm", "self_attn.k_norm"},
    };
    if (auto it = global.find(n); it != global.end()) return it->second;
    static const std::regex layer_re(R"(blk\.(0|[1-9][0-9]{0,4})\.([a-z_]+)\.(weight|bias))");
    std::smatch m;
    if (!std::regex_match(n, m, layer_re)) return std::nullopt;
    auto it = per_layer.find(m[2].str());
    if (it == per_layer.end()) return std::nullopt;
    const bool norm = it->second.ends_with("norm");
    if (norm && m[3].str() == "bias") return std::nullopt;  // RMSNorm has no bias
    return "model.layers." + m[1].str() + "." + it->second + "." + m[3].str();
}

namespace {

// llama.cpp architecture names of the families; Mistral is written as "llama".
std::optional<model::Family> family_of(const std::string& arch) {
    if (arch == "llama") return model::Family::Llama;
    if (arch == "qwen2") return model::Family::Qwen2;
    if (arch == "qwen3") return model::Family::Qwen3;
    return std::nullopt;
}

// The divisors of llama.cpp's rope_freqs tensor (one per dimension pair, F32).
std::vector<float> rope_freq_factors(const GgufFile& f, const HostTensor& t, std::int64_t head_dim) {
    if (t.dtype != DType::F32 || t.shape.size() != 1 || t.shape[0] != head_dim / 2 ||
        t.bytes.size() != static_cast<std::size_t>(head_dim / 2) * 4)
        throw FormatError(f.source, "tensor 'rope_freqs.weight' must be F32 with head_dim / 2 = " +
                                        std::to_string(head_dim / 2) + " values");
    return t.to_float();
}

}  // namespace

model::ModelConfig gguf_llama_config(const GgufFile& f) {
    const auto arch = f.get_string("general.architecture");
    if (!arch) throw FormatError(f.source, "metadata 'general.architecture' is missing");
    const auto family = family_of(*arch);
    if (!family)
        throw InputError(f.source, "unsupported GGUF architecture '" + *arch +
                                       "' (metadata 'general.architecture'; supported: llama, qwen2, qwen3)");
    const std::string p = *arch + ".";
    auto required = [&](const std::string& key) {
        const auto v = f.get_int(p + key);
        if (!v) throw FormatError(f.source, "metadata '" + p + key + "' is missing");
        if (*v <= 0) throw FormatError(f.source, "metadata '" + p + key + "' must be positive");
        return *v;
    };
    auto optional_int = [&](const std::string& key, std::int64_t fallback) {
        const auto v = f.get_int(p + key);
        if (v && *v <= 0) throw FormatError(f.source, "metadata '" + p + key + "' must be positive");
        return v ? *v : fallback;
    };

    model::ModelConfig c;
    c.family = *family;
    c.dim = required("embedding_length");
    c.hidden_dim = required("feed_forward_length");
    c.n_layers = required("block_count");
    c.n_heads = required("attention.head_count");
    c.n_kv_heads = optional_int("attention.head_count_kv", c.n_heads);
    if (c.dim % c.n_heads != 0 && !f.find(p + "attention.key_length"))
        throw FormatError(f.source, "embedding_length is not a multiple of attention.head_count");
    c.head_dim = optional_int("attention.key_length", c.dim / c.n_heads);
    if (const auto vl = f.get_int(p + "attention.value_length"); vl && *vl != c.head_dim)
        throw InputError(f.source, "metadata '" + p + "attention.value_length' differs from key_length (not supported)");
    if (const auto rot = f.get_int(p + "rope.dimension_count"); rot && *rot != c.head_dim)
        throw InputError(f.source, "rope.dimension_count " + std::to_string(*rot) + " differs from the head size " +
                                       std::to_string(c.head_dim) + " (partial rotary is not supported)");
    c.max_seq_len = optional_int("context_length", 2048);
    c.rms_norm_eps = f.get_float(p + "attention.layer_norm_rms_epsilon").value_or(1e-5);
    c.rope_theta = f.get_float(p + "rope.freq_base").value_or(10000.0);
    c.tie_word_embeddings = f.tensor("output.weight") == nullptr;
    if (const auto scaling = f.get_string(p + "rope.scaling.type"); scaling && *scaling != "none") {
        if (*scaling != "linear")
            throw InputError(f.source, "metadata '" + p + "rope.scaling.type' is '" + *scaling +
                                           "': that RoPE scaling is not supported (supported: none, linear)");
        c.rope_scaling.type = model::RopeScaling::Type::Linear;
        const auto factor = f.get_float(p + "rope.scaling.factor");
        if (!factor) throw FormatError(f.source, "metadata '" + p + "rope.scaling.factor' is missing");
        c.rope_scaling.factor = *factor;
    }
    if (const HostTensor* freqs = f.tensor("rope_freqs.weight")) {
        if (c.rope_scaling.type != model::RopeScaling::Type::None)
            throw InputError(f.source, "has both rope.scaling.type and a rope_freqs tensor");
        c.rope_scaling.type = model::RopeScaling::Type::FreqFactors;
        c.rope_scaling.freq_factors = rope_freq_factors(f, *freqs, c.head_dim);
    }
    if (const auto window = f.get_int(p + "attention.sliding_window"); window && *window != 0) {
        if (*window < 0) throw FormatError(f.source, "metadata '" + p + "attention.sliding_window' is negative");
        c.sliding_window = *window;
        if (c.family == model::Family::Llama) c.family = model::Family::Mistral;  // a windowed "llama" is Mistral's decoder
    }
    // Biases and head norms: what the file holds (per-layer completeness is checked at load).
    for (int k = 0; k < model::kLinearKinds; ++k) {
        static const char* names[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
        c.linear_bias[static_cast<std::size_t>(k)] = f.tensor("blk.0." + std::string(names[k]) + ".bias") != nullptr;
    }
    c.qk_norm = f.tensor("blk.0.attn_q_norm.weight") != nullptr || f.tensor("blk.0.attn_k_norm.weight") != nullptr;
    if (c.family == model::Family::Qwen3 && !c.qk_norm)
        throw FormatError(f.source, "a qwen3 model without attn_q_norm / attn_k_norm tensors");
    if (c.family != model::Family::Qwen3 && c.qk_norm)
        throw InputError(f.source, "q/k norm tensors in a '" + *arch + "' model (only qwen3 has them)");
    if (auto v = f.get_int(p + "vocab_size")) {
        c.vocab_size = *v;
    } else if (auto tok = f.find("tokenizer.ggml.tokens"); tok && tok->type == GgufType::ARRAY) {
        c.vocab_size = static_cast<std::int64_t>(tok->array.size());
    } else if (auto emb = f.tensor("token_embd.weight"); emb && emb->shape.size() == 2) {
        c.vocab_size = emb->shape[0];
    }
    c.validate(f.source.string());
    return c;
}

namespace {

const GgufValue* typed_array(const GgufFile& f, const std::string& key, GgufType elem) {
    const GgufValue* v = f.find(key);
    if (!v) return nullptr;
    if (v->type != GgufType::ARRAY || v->elem_type != elem)
        throw FormatError(f.source, "metadata '" + key + "' is not an array of " + gguf_type_name(elem));
    return v;
}

}  // namespace

std::optional<tokenizer::GgufVocab> gguf_vocab(const GgufFile& f) {
    const GgufValue* tokens = typed_array(f, "tokenizer.ggml.tokens", GgufType::STRING);
    if (!tokens) return std::nullopt;
    tokenizer::GgufVocab v;
    v.model = f.get_string("tokenizer.ggml.model").value_or("");
    v.pre = f.get_string("tokenizer.ggml.pre").value_or("default");
    v.tokens.reserve(tokens->array.size());
    for (const GgufValue& t : tokens->array) v.tokens.push_back(t.s);
    const std::size_t n = v.tokens.size();
    if (const GgufValue* s = typed_array(f, "tokenizer.ggml.scores", GgufType::F32)) {
        if (s->array.size() != n) throw FormatError(f.source, "tokenizer.ggml.scores length differs from the token count");
        for (const GgufValue& x : s->array) v.scores.push_back(static_cast<float>(x.f));
    }
    if (const GgufValue* s = typed_array(f, "tokenizer.ggml.token_type", GgufType::I32)) {
        if (s->array.size() != n)
            throw FormatError(f.source, "tokenizer.ggml.token_type length differs from the token count");
        for (const GgufValue& x : s->array) v.token_types.push_back(static_cast<std::int32_t>(x.i));
    }
    if (const GgufValue* s = typed_array(f, "tokenizer.ggml.merges", GgufType::STRING))
        for (const GgufValue& x : s->array) v.merges.push_back(x.s);
    auto id = [&](const char* key) -> std::int32_t {
        const auto i = f.get_int(key);
        if (!i) return -1;
        if (*i < 0 || static_cast<std::uint64_t>(*i) >= n)
            throw FormatError(f.source, std::string("metadata '") + key + "' = " + std::to_string(*i) +
                                            " is outside the vocabulary of " + std::to_string(n));
        return static_cast<std::int32_t>(*i);
    };
    v.bos_id = id("tokenizer.ggml.bos_token_id");
    v.eos_id = id("tokenizer.ggml.eos_token_id");
    v.unk_id = id("tokenizer.ggml.unknown_token_id");
    v.pad_id = id("tokenizer.ggml.padding_token_id");
    // llama.cpp's defaults when the keys are absent: SentencePiece vocabularies add BOS, BPE ones do not.
    v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token").value_or(v.model == "llama");
    v.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
    return v;
}

GgufLlama gguf_to_llama(const GgufFile& f) {
    GgufLlama out;
    out.config = gguf_llama_config(f);
    const model::ModelConfig& c = out.config;
    // llama.cpp's converter stores q/k rows (and their biases) of "llama" models in the interleaved
    // RoPE layout; qwen2/qwen3 keep Hugging Face's rotate-half rows.
    const bool interleaved = f.get_string("general.architecture") == std::optional<std::string>("llama");
    for (const HostTensor& t : f.tensors) {
        if (t.name == "rope_freqs.weight") continue;  // read into the config
        const auto name = canonical_gguf_name(t.name);
        if (!name) throw FormatError(f.source, "tensor '" + t.name + "' has no " + model::family_name(c.family) + " equivalent");
        HostTensor h;
        if (interleaved && (name->ends_with("self_attn.q_proj.weight") || name->ends_with("self_attn.q_proj.bias"))) {
            h = interleaved_to_rotate_half(t, c.n_heads, c.head_dim, f.source);
        } else if (interleaved && (name->ends_with("self_attn.k_proj.weight") || name->ends_with("self_attn.k_proj.bias"))) {
            h = interleaved_to_rotate_half(t, c.n_kv_heads, c.head_dim, f.source);
        } else {
            h = t;
        }
        h.name = *name;
        if (!out.tensors.emplace(*name, std::move(h)).second)
            throw FormatError(f.source, "two tensors map to '" + *name + "'");
    }
    out.vocab = gguf_vocab(f);
    return out;
}

}  // namespace scalebits::io
