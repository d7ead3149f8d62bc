#include "core/io/hf_config.h"

#include <string>
#include <vector>

#include "core/io/json_strict.h"
#include "core/util/error.h"

namespace scalebits::io {

namespace {

using nlohmann::json;

// Architectures whose tensors and forward pass are exactly Llama's.
bool llama_shaped(const std::string& arch) { return arch == "LlamaForCausalLM" || arch == "MistralForCausalLM"; }

class Fields {
public:
    Fields(const json& j, const std::filesystem::path& source) : j_(j), source_(source) {}

    const json* find(const char* key) const {
        auto it = j_.find(key);
        return (it == j_.end() || it->is_null()) ? nullptr : &*it;
    }
    std::int64_t positive_int(const char* key) const {
        const json* v = find(key);
        if (!v) throw InputError(source_, std::string("missing field '") + key + "'");
        return positive_int_value(key, *v);
    }
    std::int64_t positive_int(const char* key, std::int64_t fallback) const {
        const json* v = find(key);
        return v ? positive_int_value(key, *v) : fallback;
    }
    double positive_number(const char* key, double fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_number()) throw InputError(source_, std::string("field '") + key + "' is not a number");
        const double d = v->get<double>();
        if (!(d > 0.0)) throw InputError(source_, std::string("field '") + key + "' must be positive");
        return d;
    }
    bool boolean(const char* key, bool fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_boolean()) throw InputError(source_, std::string("field '") + key + "' is not true/false");
        return v->get<bool>();
    }

private:
    std::int64_t positive_int_value(const char* key, const json& v) const {
        if (!v.is_number_integer()) throw InputError(source_, std::string("field '") + key + "' is not an integer");
        if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
            throw InputError(source_, std::string("field '") + key + "' is too large");
        const std::int64_t i = v.get<std::int64_t>();
        if (i <= 0) throw InputError(source_, std::string("field '") + key + "' must be positive, got " + std::to_string(i));
        return i;
    }
    const json& j_;
    const std::filesystem::path& source_;
};

void check_architecture(const json& j, const std::filesystem::path& source) {
    auto archs = j.find("architectures");
    if (archs != j.end() && !archs->is_null()) {
        if (!archs->is_array() || archs->empty())
            throw InputError(source, "field 'architectures' is not a non-empty list of names");
        std::string names;
        for (const json& a : *archs) {
            if (!a.is_string()) throw InputError(source, "field 'architectures' holds a non-string");
            if (llama_shaped(a.get<std::string>())) return;
            names += (names.empty() ? "" : ", ") + a.get<std::string>();
        }
        throw InputError(source, "unsupported architecture " + names +
                                     " (supported: LlamaForCausalLM, MistralForCausalLM)");
    }
    auto mt = j.find("model_type");
    if (mt == j.end() || !mt->is_string())
        throw InputError(source, "missing field 'architectures' (and no 'model_type' to fall back on)");
    const std::string t = mt->get<std::string>();
    if (t != "llama" && t != "mistral")
        throw InputError(source, "unsupported model_type '" + t + "' (supported: llama, mistral)");
}

}  // namespace

model::ModelConfig hf_config_from_json(const json& j, const std::filesystem::path& source) {
    if (!j.is_object()) throw InputError(source, "config is not a JSON object");
    check_architecture(j, source);
    const Fields f(j, source);

    // Features the Llama forward pass here does not implement: refuse rather than mis-compute.
    if (f.find("rope_scaling"))
        throw InputError(source, "field 'rope_scaling' is set; scaled RoPE is not supported");
    if (f.boolean("attention_bias", false)) throw InputError(source, "attention_bias = true is not supported");
    if (f.boolean("mlp_bias", false)) throw InputError(source, "mlp_bias = true is not supported");
    if (const json* act = f.find("hidden_act"); act && !(act->is_string() && act->get<std::string>() == "silu"))
        throw InputError(source, "field 'hidden_act' must be \"silu\"");

    model::ModelConfig c;
    c.architecture = "llama";
    c.dim = f.positive_int("hidden_size");
    c.hidden_dim = f.positive_int("intermediate_size");
    c.n_layers = f.positive_int("num_hidden_layers");
    c.n_heads = f.positive_int("num_attention_heads");
    c.n_kv_heads = f.positive_int("num_key_value_heads", c.n_heads);
    c.vocab_size = f.positive_int("vocab_size");
    if (f.find("head_dim")) {
        c.head_dim = f.positive_int("head_dim");
    } else {
        if (c.dim % c.n_heads != 0)
            throw InputError(source, "hidden_size (" + std::to_string(c.dim) + ") is not a multiple of num_attention_heads (" +
                                         std::to_string(c.n_heads) + ") and no head_dim is given");
        c.head_dim = c.dim / c.n_heads;
    }
    c.max_seq_len = f.positive_int("max_position_embeddings", 2048);
    c.rms_norm_eps = f.positive_number("rms_norm_eps", 1e-6);  // LlamaConfig's default
    c.rope_theta = f.positive_number("rope_theta", 10000.0);
    c.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
    c.validate(source.string());
    return c;
}

model::ModelConfig read_hf_config(const std::filesystem::path& config_json) {
    return hf_config_from_json(read_json_file(config_json), config_json);
}

nlohmann::ordered_json hf_config_to_json(const model::ModelConfig& c) {
    return {{"architectures", {"LlamaForCausalLM"}},
            {"model_type", "llama"},
            {"hidden_size", c.dim},
            {"intermediate_size", c.hidden_dim},
            {"num_hidden_layers", c.n_layers},
            {"num_attention_heads", c.n_heads},
            {"num_key_value_heads", c.n_kv_heads},
            {"head_dim", c.head_dim},
            {"vocab_size", c.vocab_size},
            {"max_position_embeddings", c.max_seq_len},
            {"rms_norm_eps", c.rms_norm_eps},
            {"rope_theta", c.rope_theta},
            {"tie_word_embeddings", c.tie_word_embeddings},
            {"hidden_act", "silu"}};
}

}  // namespace scalebits::io
