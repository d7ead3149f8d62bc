#include "core/io/gguf_llama.h"

#include <regex>

#include "core/io/rope_layout.h"
#include "core/util/error.h"

namespace scalebits::io {

std::optional<std::string> canonical_gguf_name(const std::string& n) {
    static const std::map<std::string, std::string> global = {
        {"token_embd.weight", "model.embed_tokens.weight"},
        {"output_norm.weight", "model.norm.weight"},
        {"output.weight", "lm_head.weight"},
    };
    static const std::map<std::string, std::string> per_layer = {
        {"attn_q", "self_attn.q_proj"},  {"attn_k", "self_attn.k_proj"},   {"attn_v", "self_attn.v_proj"},
        {"attn_output", "self_attn.o_proj"}, {"ffn_gate", "mlp.gate_proj"}, {"ffn_up", "mlp.up_proj"},
        {"ffn_down", "mlp.down_proj"},   {"attn_norm", "input_layernorm"}, {"ffn_norm", "post_attention_layernorm"},
    };
    if (auto it = global.find(n); it != global.end()) return it->second;
    static const std::regex layer_re(R"(blk\.(0|[1-9][0-9]{0,4})\.([a-z_]+)\.weight)");
    std::smatch m;
    if (!std::regex_match(n, m, layer_re)) return std::nullopt;
    auto it = per_layer.find(m[2].str());
    if (it == per_layer.end()) return std::nullopt;
    return "model.layers." + m[1].str() + "." + it->second + ".weight";
}

model::ModelConfig gguf_llama_config(const GgufFile& f) {
    const auto arch = f.get_string("general.architecture");
    if (!arch) throw FormatError(f.source, "metadata 'general.architecture' is missing");
    // Mistral-family GGUFs are written with architecture "llama" too.
    if (*arch != "llama") throw InputError(f.source, "unsupported GGUF architecture '" + *arch + "' (supported: llama)");
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
    if (const auto scaling = f.get_string(p + "rope.scaling.type"); scaling && *scaling != "none")
        throw InputError(f.source, "RoPE scaling '" + *scaling + "' is not supported");

    model::ModelConfig c;
    c.architecture = "llama";
    c.dim = required("embedding_length");
    c.hidden_dim = required("feed_forward_length");
    c.n_layers = required("block_count");
    c.n_heads = required("attention.head_count");
    c.n_kv_heads = optional_int("attention.head_count_kv", c.n_heads);
    if (c.dim % c.n_heads != 0 && !f.find(p + "attention.key_length"))
        throw FormatError(f.source, "embedding_length is not a multiple of attention.head_count");
    c.head_dim = optional_int("attention.key_length", c.dim / c.n_heads);
    if (const auto rot = f.get_int(p + "rope.dimension_count"); rot && *rot != c.head_dim)
        throw InputError(f.source, "rope.dimension_count " + std::to_string(*rot) + " differs from the head size " +
                                       std::to_string(c.head_dim) + " (partial rotary is not supported)");
    c.max_seq_len = optional_int("context_length", 2048);
    c.rms_norm_eps = f.get_float(p + "attention.layer_norm_rms_epsilon").value_or(1e-5);
    c.rope_theta = f.get_float(p + "rope.freq_base").value_or(10000.0);
    c.tie_word_embeddings = f.tensor("output.weight") == nullptr;
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
    for (const HostTensor& t : f.tensors) {
        const auto name = canonical_gguf_name(t.name);
        if (!name) throw FormatError(f.source, "tensor '" + t.name + "' has no Llama equivalent");
        HostTensor h;
        if (name->ends_with("self_attn.q_proj.weight")) {
            h = interleaved_to_rotate_half(t, c.n_heads, c.head_dim, f.source);
        } else if (name->ends_with("self_attn.k_proj.weight")) {
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
