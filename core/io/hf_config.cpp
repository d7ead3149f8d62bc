#include "core/io/hf_config.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/io/json_strict.h"
#include "core/util/error.h"

namespace scalebits::io {

namespace {

using nlohmann::json;
using model::Family;

constexpr const char* kSupported = "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM";

std::optional<Family> family_of_architecture(const std::string& arch) {
    for (Family f : {Family::Llama, Family::Mistral, Family::Qwen2, Family::Qwen3})
        if (arch == model::family_hf_architecture(f)) return f;
    return std::nullopt;
}

std::optional<Family> family_of_model_type(const std::string& type) {
    for (Family f : {Family::Llama, Family::Mistral, Family::Qwen2, Family::Qwen3})
        if (type == model::family_name(f)) return f;
    return std::nullopt;
}

// Reads typed fields of one JSON object; errors name the file and the field's path ("rope_scaling.factor").
class Fields {
public:
    Fields(const json& j, const std::filesystem::path& source, std::string prefix = {})
        : j_(j), source_(source), prefix_(std::move(prefix)) {}

    const json* find(const char* key) const {
        auto it = j_.find(key);
        return (it == j_.end() || it->is_null()) ? nullptr : &*it;
    }
    bool has(const char* key) const { return find(key) != nullptr; }
    std::string field(const char* key) const { return "field '" + prefix_ + key + "'"; }
    [[noreturn]] void fail(const char* key, const std::string& problem) const {
        throw InputError(source_, field(key) + " " + problem);
    }

    std::int64_t positive_int(const char* key) const {
        const json* v = find(key);
        if (!v) fail(key, "is missing");
        return positive_int_value(key, *v);
    }
    std::int64_t positive_int(const char* key, std::int64_t fallback) const {
        const json* v = find(key);
        return v ? positive_int_value(key, *v) : fallback;
    }
    double positive_number(const char* key) const {
        if (!find(key)) fail(key, "is missing");
        return positive_number(key, 0.0);
    }
    double positive_number(const char* key, double fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_number()) fail(key, "is not a number");
        const double d = v->get<double>();
        if (!(d > 0.0) || !std::isfinite(d)) fail(key, "must be positive, got " + v->dump());
        return d;
    }
    bool boolean(const char* key, bool fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_boolean()) fail(key, "is not true/false");
        return v->get<bool>();
    }
    std::string string(const char* key, const std::string& fallback) const {
        const json* v = find(key);
        if (!v) return fallback;
        if (!v->is_string()) fail(key, "is not a string");
        return v->get<std::string>();
    }

private:
    std::int64_t positive_int_value(const char* key, const json& v) const {
        if (!v.is_number_integer()) fail(key, "is not an integer");
        if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) fail(key, "is too large");
        const std::int64_t i = v.get<std::int64_t>();
        if (i <= 0) fail(key, "must be positive, got " + std::to_string(i));
        return i;
    }
    const json& j_;
    const std::filesystem::path& source_;
    std::string prefix_;
};

Family read_family(const json& j, const std::filesystem::path& source) {
    auto archs = j.find("architectures");
    if (archs != j.end() && !archs->is_null()) {
        if (!archs->is_array() || archs->empty())
            throw InputError(source, "field 'architectures' is not a non-empty list of names");
        std::string names;
        for (const json& a : *archs) {
            if (!a.is_string()) throw InputError(source, "field 'architectures' holds a non-string");
            if (auto f = family_of_architecture(a.get<std::string>())) return *f;
            names += (names.empty() ? "" : ", ") + a.get<std::string>();
        }
        throw InputError(source, "unsupported architecture " + names + " (field 'architectures'; supported: " + kSupported + ")");
    }
    auto mt = j.find("model_type");
    if (mt == j.end() || !mt->is_string())
        throw InputError(source, "missing field 'architectures' (and no 'model_type' to fall back on)");
    const std::string t = mt->get<std::string>();
    if (auto f = family_of_model_type(t)) return *f;
    throw InputError(source, "unsupported model_type '" + t + "' (field 'model_type'; supported: llama, mistral, qwen2, qwen3)");
}

// RoPE: transformers 5 writes "rope_parameters" (rope_type, rope_theta, factor, ...), earlier versions
// "rope_theta" and "rope_scaling" (type or rope_type, factor, ...); configs in the wild carry either.
void read_rope(const Fields& top, const std::filesystem::path& source, model::ModelConfig& c) {
    const char* key = top.has("rope_parameters") ? "rope_parameters" : "rope_scaling";
    c.rope_theta = top.positive_number("rope_theta", 10000.0);
    const json* r = top.find(key);
    if (!r) return;
    if (!r->is_object()) top.fail(key, "is not an object");
    const Fields f(*r, source, std::string(key) + ".");
    if (f.has("rope_theta")) c.rope_theta = f.positive_number("rope_theta");
    if (f.has("partial_rotary_factor") && f.positive_number("partial_rotary_factor") != 1.0)
        f.fail("partial_rotary_factor", "is not 1 (RoPE on part of each head is not supported)");
    const std::string type = f.has("rope_type") ? f.string("rope_type", "") : f.string("type", "default");
    auto& s = c.rope_scaling;
    if (type == "default") {
        s.type = model::RopeScaling::Type::None;
    } else if (type == "linear") {
        s.type = model::RopeScaling::Type::Linear;
        s.factor = f.positive_number("factor");
    } else if (type == "llama3") {
        s.type = model::RopeScaling::Type::Llama3;
        s.factor = f.positive_number("factor");
        s.low_freq_factor = f.positive_number("low_freq_factor");
        s.high_freq_factor = f.positive_number("high_freq_factor");
        s.original_max_position_embeddings = f.positive_int("original_max_position_embeddings");
        if (!(s.high_freq_factor > s.low_freq_factor))
            f.fail("high_freq_factor", "must be above low_freq_factor");
    } else if (type == "freq_factors") {
        // This tool's own form, written by exports of GGUF Llama 3 models (whose file gives the
        // per-dimension divisors, not the formula's parameters).
        s.type = model::RopeScaling::Type::FreqFactors;
        const json* v = f.find("freq_factors");
        if (!v || !v->is_array()) f.fail("freq_factors", "is not a list of numbers");
        for (const json& x : *v) {
            const double d = x.is_number() ? x.get<double>() : 0.0;
            if (!(d > 0.0) || d > 1e30) f.fail("freq_factors", "holds " + x.dump() + ", not a positive number");
            s.freq_factors.push_back(static_cast<float>(d));  // (a double beyond float's range would not convert)
        }
    } else {
        throw InputError(source, "field '" + std::string(key) + ".rope_type' is '" + type +
                                     "': that RoPE scaling is not supported (supported: default, linear, llama3)");
    }
}

// Qwen2/Qwen3 declare sliding attention per layer (layer_types, or use_sliding_window with
// max_window_layers); one window for all layers is what the decoder has.
std::int64_t qwen_window(const Fields& f, std::int64_t n_layers) {
    std::vector<bool> sliding(static_cast<std::size_t>(n_layers), false);
    if (const json* types = f.find("layer_types")) {
        if (!types->is_array() || static_cast<std::int64_t>(types->size()) != n_layers)
            f.fail("layer_types", "is not a list with one entry per layer");
        for (std::size_t i = 0; i < types->size(); ++i) {
            const json& t = (*types)[i];
            if (!t.is_string() || (t != "full_attention" && t != "sliding_attention"))
                f.fail("layer_types", "holds " + t.dump() + " (supported: full_attention, sliding_attention)");
            sliding[i] = t == "sliding_attention";
        }
    } else if (f.boolean("use_sliding_window", false)) {
        // transformers: layer i slides when use_sliding_window and i >= max_window_layers.
        std::int64_t from = 0;
        if (const json* m = f.find("max_window_layers")) {
            if (!m->is_number_integer() || m->get<std::int64_t>() < 0) f.fail("max_window_layers", "is not a count of layers");
            from = m->get<std::int64_t>();
        }
        for (std::int64_t i = from; i < n_layers; ++i) sliding[static_cast<std::size_t>(i)] = true;
    }
    const auto n = std::count(sliding.begin(), sliding.end(), true);
    if (n == 0) return 0;
    if (n != n_layers) f.fail("layer_types", "mixes sliding and full attention layers, which is not supported");
    return f.positive_int("sliding_window");
}

}  // namespace

model::ModelConfig hf_config_from_json(const json& j, const std::filesystem::path& source) {
    if (!j.is_object()) throw InputError(source, "config is not a JSON object");
    model::ModelConfig c;
    c.family = read_family(j, source);
    const Fields f(j, source);
    const std::string family = model::family_name(c.family);

    // Features the decoder here does not implement: refuse rather than mis-compute.
    if (const json* act = f.find("hidden_act"); act && !(act->is_string() && act->get<std::string>() == "silu"))
        throw InputError(source, "field 'hidden_act' must be \"silu\" for this " + family + " model");
    for (const char* moe : {"num_experts", "num_local_experts", "n_routed_experts"})
        if (f.has(moe) && f.find(moe)->is_number_integer() && f.find(moe)->get<std::int64_t>() > 0)
            throw InputError(source, "field '" + std::string(moe) + "' is set: mixture-of-experts models are not supported");

    c.dim = f.positive_int("hidden_size");
    c.hidden_dim = f.positive_int("intermediate_size");
    c.n_layers = f.positive_int("num_hidden_layers");
    c.n_heads = f.positive_int("num_attention_heads");
    c.n_kv_heads = f.positive_int("num_key_value_heads", c.n_heads);
    c.vocab_size = f.positive_int("vocab_size");
    if (f.has("head_dim")) {
        c.head_dim = f.positive_int("head_dim");
    } else if (c.family == Family::Qwen3) {
        c.head_dim = 128;  // Qwen3Config's default
    } else {
        if (c.dim % c.n_heads != 0)
            throw InputError(source, "hidden_size (" + std::to_string(c.dim) + ") is not a multiple of num_attention_heads (" +
                                         std::to_string(c.n_heads) + ") and no head_dim is given");
        c.head_dim = c.dim / c.n_heads;
    }
    c.max_seq_len = f.positive_int("max_position_embeddings", 2048);
    c.rms_norm_eps = f.positive_number("rms_norm_eps", 1e-6);  // the transformers configs' default
    c.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
    read_rope(f, source, c);

    // Biases, per family as transformers builds the layers.
    const bool attention_bias = f.boolean("attention_bias", false), mlp_bias = f.boolean("mlp_bias", false);
    switch (c.family) {
        case Family::Llama:
            c.linear_bias = {attention_bias, attention_bias, attention_bias, attention_bias, mlp_bias, mlp_bias, mlp_bias};
            break;
        case Family::Mistral:  // MistralAttention and MistralMLP have no bias, whatever the config says
            break;
        case Family::Qwen2:  // q, k and v always carry one; o and the MLP never
            c.linear_bias = {true, true, true, false, false, false, false};
            break;
        case Family::Qwen3:
            c.qk_norm = true;
            c.linear_bias = {attention_bias, attention_bias, attention_bias, attention_bias, false, false, false};
            break;
    }

    c.validate(source.string());  // bounds first: the layer count sizes what follows

    // Sliding attention.
    if (c.family == Family::Mistral) {
        // MistralConfig's default window is 4096 when the key is absent; null means none.
        const auto it = j.find("sliding_window");
        if (it == j.end()) {
            c.sliding_window = 4096;
        } else if (!it->is_null()) {
            c.sliding_window = f.positive_int("sliding_window");
        }
    } else if (c.family == Family::Qwen2 || c.family == Family::Qwen3) {
        c.sliding_window = qwen_window(f, c.n_layers);
    } else if (f.has("sliding_window") && f.positive_int("sliding_window") > 0 && c.family == Family::Llama) {
        throw InputError(source, "field 'sliding_window' is set for a Llama model, whose attention has no window");
    }
    c.validate(source.string());
    return c;
}

model::ModelConfig read_hf_config(const std::filesystem::path& config_json) {
    return hf_config_from_json(read_json_file(config_json), config_json);
}

nlohmann::ordered_json hf_config_to_json(const model::ModelConfig& c) {
    nlohmann::ordered_json j = {{"architectures", {model::family_hf_architecture(c.family)}},
                                {"model_type", model::family_name(c.family)},
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
    const auto& r = c.rope_scaling;
    switch (r.type) {
        case model::RopeScaling::Type::None: break;
        case model::RopeScaling::Type::Linear: j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", r.factor}}; break;
        case model::RopeScaling::Type::Llama3:
            j["rope_scaling"] = {{"rope_type", "llama3"},
                                 {"factor", r.factor},
                                 {"low_freq_factor", r.low_freq_factor},
                                 {"high_freq_factor", r.high_freq_factor},
                                 {"original_max_position_embeddings", r.original_max_position_embeddings}};
            break;
        case model::RopeScaling::Type::FreqFactors:
            j["rope_scaling"] = {{"rope_type", "freq_factors"}, {"freq_factors", r.freq_factors}};
            break;
    }
    switch (c.family) {
        case Family::Llama:
            j["attention_bias"] = c.has_bias(0);
            j["mlp_bias"] = c.has_bias(4);
            break;
        case Family::Mistral:
            j["sliding_window"] = c.sliding_window > 0 ? nlohmann::ordered_json(c.sliding_window) : nlohmann::ordered_json();
            break;
        case Family::Qwen2: break;
        case Family::Qwen3: j["attention_bias"] = c.has_bias(0); break;
    }
    if ((c.family == Family::Qwen2 || c.family == Family::Qwen3) && c.sliding_window > 0) {
        j["use_sliding_window"] = true;
        j["max_window_layers"] = 0;
        j["sliding_window"] = c.sliding_window;
    }
    return j;
}

}  // namespace scalebits::io
