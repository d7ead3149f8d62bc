#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdio>
#include <numbers>

#include "core/base/model_config.h"
#include "core/util/error.h"

namespace scalebits::model {

const char* family_name(Family f) {
    switch (f) {
        case Family::Llama: return "llama";
        case Family::Mistral: return "mistral";
        case Family::Qwen2: return "qwen2";
        case Family::Qwen3: return "qwen3";
    }
    return "?";
}

const char* family_hf_architecture(Family f) {
    switch (f) {
        case Family::Llama: return "LlamaForCausalLM";
        case Family::Mistral: return "MistralForCausalLM";
        case Family::Qwen2: return "Qwen2ForCausalLM";
        case Family::Qwen3: return "Qwen3ForCausalLM";
    }
    return "?";
}

bool ModelConfig::any_bias() const {
    for (bool b : linear_bias)
        if (b) return true;
    return false;
}

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
    if (!(rms_norm_eps > 0.0) || !std::isfinite(rms_norm_eps) || !(rope_theta > 0.0) || !std::isfinite(rope_theta))
        throw InputError(source, "rms_norm_eps and rope_theta must be positive");
    if (sliding_window < 0) throw InputError(source, "field 'sliding_window' must be positive");
    // Each family's switches as transformers builds it, so every config round-trips through config.json.
    const auto& b = linear_bias;
    const bool attn = b[0] && b[1] && b[2] && b[3], no_attn = !b[0] && !b[1] && !b[2] && !b[3];
    const bool mlp = b[4] && b[5] && b[6], no_mlp = !b[4] && !b[5] && !b[6];
    const std::string name = family_name(family);
    switch (family) {
        case Family::Llama:
            if (!(attn || no_attn) || !(mlp || no_mlp))
                throw InputError(source, "a llama model has biases on all of q, k, v, o (attention_bias) and all of gate, up, "
                                         "down (mlp_bias) or on none of them");
            break;
        case Family::Mistral:
            if (any_bias()) throw InputError(source, "a mistral model has no biases");
            break;
        case Family::Qwen2:
            if (!(b[0] && b[1] && b[2]) || b[3] || !no_mlp)
                throw InputError(source, "a qwen2 model has biases on q, k and v and nowhere else");
            break;
        case Family::Qwen3:
            if (!(attn || no_attn) || !no_mlp)
                throw InputError(source, "a qwen3 model has biases on all of q, k, v, o (attention_bias) or none");
            break;
    }
    if (qk_norm != (family == Family::Qwen3))
        throw InputError(source, qk_norm ? "q/k head norms belong to qwen3 models only, not " + name
                                         : std::string("a qwen3 model needs its q_norm and k_norm"));
    if (sliding_window > 0 && family == Family::Llama)
        throw InputError(source, "a llama model has no sliding attention window (that is mistral)");
    const RopeScaling& r = rope_scaling;
    switch (r.type) {
        case RopeScaling::Type::None: break;
        case RopeScaling::Type::Linear:
            if (!(r.factor > 0.0) || !std::isfinite(r.factor))
                throw InputError(source, "field 'rope_scaling.factor' must be a positive number");
            break;
        case RopeScaling::Type::Llama3:
            if (!(r.factor > 0.0) || !std::isfinite(r.factor))
                throw InputError(source, "field 'rope_scaling.factor' must be a positive number");
            if (!(r.low_freq_factor > 0.0) || !(r.high_freq_factor > r.low_freq_factor) || !std::isfinite(r.high_freq_factor))
                throw InputError(source, "fields 'rope_scaling.low_freq_factor' and 'high_freq_factor' must be positive, "
                                         "low below high");
            if (r.original_max_position_embeddings <= 0)
                throw InputError(source, "field 'rope_scaling.original_max_position_embeddings' must be positive");
            break;
        case RopeScaling::Type::FreqFactors:
            if (static_cast<std::int64_t>(r.freq_factors.size()) != head_dim / 2)
                throw InputError(source, "rope frequency factors: " + std::to_string(r.freq_factors.size()) +
                                             " values for a head of " + std::to_string(head_dim) + " (half of it is needed)");
            for (float f : r.freq_factors)
                if (!(f > 0.0f) || !std::isfinite(f)) throw InputError(source, "rope frequency factors must be positive numbers");
            break;
    }
}

std::string describe_family(const ModelConfig& c) {
    std::vector<std::string> parts;
    char buf[64];
    switch (c.rope_scaling.type) {
        case RopeScaling::Type::None: break;
        case RopeScaling::Type::Linear:
            std::snprintf(buf, sizeof buf, "linear RoPE scaling x%g", c.rope_scaling.factor);
            parts.emplace_back(buf);
            break;
        case RopeScaling::Type::Llama3:
            std::snprintf(buf, sizeof buf, "llama3 RoPE scaling x%g", c.rope_scaling.factor);
            parts.emplace_back(buf);
            break;
        case RopeScaling::Type::FreqFactors: parts.emplace_back("RoPE frequency factors"); break;
    }
    static const char* kinds[] = {"q", "k", "v", "o", "gate", "up", "down"};
    std::string biases;
    for (int k = 0; k < 7; ++k)
        if (c.has_bias(k)) biases += (biases.empty() ? "" : ", ") + std::string(kinds[k]);
    if (!biases.empty()) parts.push_back("biases on " + biases);
    if (c.qk_norm) parts.emplace_back("q/k head norms");
    if (c.sliding_window > 0) parts.push_back("sliding window " + std::to_string(c.sliding_window));
    std::string out = family_name(c.family);
    for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : " (") + parts[i];
    return parts.empty() ? out : out + ")";
}

std::vector<double> rope_inverse_frequencies(const ModelConfig& c) {
    const std::size_t n = static_cast<std::size_t>(c.head_dim / 2);
    std::vector<double> inv(n);
    for (std::size_t i = 0; i < n; ++i)
        inv[i] = 1.0 / std::pow(c.rope_theta, 2.0 * static_cast<double>(i) / static_cast<double>(c.head_dim));
    const RopeScaling& r = c.rope_scaling;
    switch (r.type) {
        case RopeScaling::Type::None: break;
        case RopeScaling::Type::Linear:
            for (double& f : inv) f /= r.factor;
            break;
        case RopeScaling::Type::Llama3: {
            // transformers' _compute_llama3_parameters: wavelengths shorter than old_ctx/high keep
            // their frequency, longer than old_ctx/low are divided by factor, a linear ramp in
            // old_ctx/wavelen between.
            const double old_ctx = static_cast<double>(r.original_max_position_embeddings);
            const double low_wavelen = old_ctx / r.low_freq_factor, high_wavelen = old_ctx / r.high_freq_factor;
            for (double& f : inv) {
                const double wavelen = 2.0 * std::numbers::pi / f;
                if (wavelen < high_wavelen) continue;
                if (wavelen > low_wavelen) {
                    f /= r.factor;
                    continue;
                }
                const double smooth = (old_ctx / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
                f = (1.0 - smooth) * f / r.factor + smooth * f;
            }
            break;
        }
        case RopeScaling::Type::FreqFactors:
            for (std::size_t i = 0; i < n; ++i) inv[i] /= static_cast<double>(r.freq_factors[i]);
            break;
    }
    return inv;
}

std::optional<RopeScaling> llama3_scaling_of_factors(const ModelConfig& c) {
    const RopeScaling& r = c.rope_scaling;
    if (r.type != RopeScaling::Type::FreqFactors || r.freq_factors.empty()) return std::nullopt;
    const double factor = *std::max_element(r.freq_factors.begin(), r.freq_factors.end());
    if (!(factor > 1.0)) return std::nullopt;
    // Dimension i has wavelength 2 pi theta^(2i/d) and divisor 1 (short wavelengths), `factor` (long
    // ones) or 1 / ((1 - s) / factor + s) on the ramp, where s = (old_ctx / wavelength - low) / (high - low).
    double longest_kept = 0, shortest_divided = std::numeric_limits<double>::infinity();
    std::vector<double> x, y;  // ramp dimensions: 1 / wavelength, s
    for (std::size_t i = 0; i < r.freq_factors.size(); ++i) {
        const double f = r.freq_factors[i];
        const double wavelen = 2.0 * std::numbers::pi *
                               std::pow(c.rope_theta, 2.0 * static_cast<double>(i) / static_cast<double>(c.head_dim));
        if (std::abs(f - 1.0) <= 1e-6) {
            longest_kept = std::max(longest_kept, wavelen);
        } else if (std::abs(f - factor) <= 1e-6 * factor) {
            shortest_divided = std::min(shortest_divided, wavelen);
        } else {
            x.push_back(1.0 / wavelen);
            y.push_back((1.0 / f - 1.0 / factor) / (1.0 - 1.0 / factor));
        }
    }
    RopeScaling out;
    out.type = RopeScaling::Type::Llama3;
    out.factor = factor;
    out.low_freq_factor = 1.0;
    double old_ctx = 0;
    if (x.size() >= 2) {
        // s = old_ctx / (high - 1) * x - 1 / (high - 1): a line through the ramp's points.
        double mx = 0, my = 0, sxx = 0, sxy = 0;
        for (std::size_t i = 0; i < x.size(); ++i) mx += x[i], my += y[i];
        mx /= static_cast<double>(x.size()), my /= static_cast<double>(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) sxx += (x[i] - mx) * (x[i] - mx), sxy += (x[i] - mx) * (y[i] - my);
        if (!(sxx > 0)) return std::nullopt;
        const double slope = sxy / sxx, intercept = my - slope * mx;
        if (!(intercept < 0)) return std::nullopt;
        out.high_freq_factor = 1.0 - 1.0 / intercept;
        if (std::abs(out.high_freq_factor - std::round(out.high_freq_factor)) < 1e-3)
            out.high_freq_factor = std::round(out.high_freq_factor);
        old_ctx = slope * (out.high_freq_factor - 1.0);
    } else {
        out.high_freq_factor = 4.0;
        if (x.size() == 1) {
            old_ctx = (y[0] * (out.high_freq_factor - 1.0) + 1.0) / x[0];
        } else {
            // No ramp: any context with the kept wavelengths below old_ctx / high and the divided ones
            // above old_ctx gives the same divisors.
            const double lo = std::max(out.high_freq_factor * longest_kept, 1.0), hi = shortest_divided;
            if (!(lo < hi)) return std::nullopt;
            old_ctx = std::floor(std::sqrt(lo * hi));
        }
    }
    out.original_max_position_embeddings = std::llround(old_ctx);
    if (out.original_max_position_embeddings <= 0 || !(out.high_freq_factor > 1.0)) return std::nullopt;
    ModelConfig stated = c;
    stated.rope_scaling = out;
    const std::vector<double> want = rope_inverse_frequencies(c), got = rope_inverse_frequencies(stated);
    for (std::size_t i = 0; i < want.size(); ++i)
        if (!(std::abs(got[i] - want[i]) <= 1e-5 * want[i])) return std::nullopt;
    return out;
}

}  // namespace scalebits::model
