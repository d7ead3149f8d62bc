#pragma once
// Hyper-parameters of a Llama-family decoder, whatever file they came from. The families this tool
// runs are one decoder with a few switches (DESIGN.md 6): Llama (optionally with scaled RoPE),
// Mistral (a sliding attention window), Qwen2 (biases on q/k/v), Qwen3 (RMSNorm on each q and k head,
// an explicit head size). Hugging Face transformers is the reference for every switch.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace scalebits::model {

// The families, by the name the tool records (analysis files, exports, `info`). An export reloads as
// the family it was made from.
enum class Family { Llama, Mistral, Qwen2, Qwen3 };
const char* family_name(Family f);           // "llama", "mistral", "qwen2", "qwen3"
const char* family_hf_architecture(Family f);  // "LlamaForCausalLM", ...

// How RoPE frequencies are stretched for long contexts (transformers' rope_type).
struct RopeScaling {
    enum class Type {
        None,
        Linear,  // every inverse frequency divided by `factor` (positions / factor)
        Llama3,  // Llama 3.x: low frequencies divided by `factor`, high ones kept, a smooth ramp between
        // Per-dimension divisors given as numbers (GGUF's rope_freqs tensor, which is how llama.cpp's
        // converter stores Llama 3 scaling): inverse frequency i is divided by freq_factors[i].
        FreqFactors,
    };
    Type type = Type::None;
    double factor = 1.0;
    double low_freq_factor = 1.0, high_freq_factor = 4.0;  // Llama3
    std::int64_t original_max_position_embeddings = 0;     // Llama3
    std::vector<float> freq_factors;                       // FreqFactors: head_dim / 2 values

    bool operator==(const RopeScaling&) const = default;
};

struct ModelConfig {
    Family family = Family::Llama;
    std::int64_t dim = 0;           // hidden_size
    std::int64_t hidden_dim = 0;    // intermediate_size (SwiGLU)
    std::int64_t n_layers = 0;
    std::int64_t n_heads = 0;
    std::int64_t n_kv_heads = 0;
    std::int64_t head_dim = 0;      // dim / n_heads unless the file says otherwise
    std::int64_t vocab_size = 0;
    std::int64_t max_seq_len = 2048;
    double rms_norm_eps = 1e-5;
    double rope_theta = 10000.0;
    bool tie_word_embeddings = false;
    RopeScaling rope_scaling;
    // Which of the seven linear layers of a decoder layer (LinearKind order: q k v o gate up down)
    // carry a bias vector (one value per output row). Qwen2: q, k, v; Llama's attention_bias: q, k,
    // v, o; mlp_bias: gate, up, down. Biases stay fp32 and are never quantized.
    std::array<bool, 7> linear_bias{};
    bool qk_norm = false;            // Qwen3: RMSNorm over head_dim on every q and k head, before RoPE
    std::int64_t sliding_window = 0; // Mistral: a query sees the last `sliding_window` positions; 0 = all

    bool has_bias(int kind) const { return linear_bias[static_cast<std::size_t>(kind)]; }
    bool any_bias() const;

    // Throws InputError (naming `source`) when a field is missing, non-positive or inconsistent.
    void validate(const std::string& source) const;
};

// "qwen2 (biases on q, k, v)", "llama (llama3 RoPE scaling x8)", "mistral (sliding window 4096)":
// the family and its switches, for `info` and the explorer.
std::string describe_family(const ModelConfig& config);

// The inverse RoPE frequencies of head dimension pairs 0 .. head_dim/2 - 1, scaling applied, computed
// in double (transformers computes them in float32 from the same formula).
std::vector<double> rope_inverse_frequencies(const ModelConfig& config);

// Llama 3 parameters (transformers' rope_type "llama3") that give the frequencies of a FreqFactors
// scaling, so a folder made from a GGUF can state them in a config transformers reads. The low
// frequency factor is taken as 1 and, when fewer than two dimensions lie on the ramp, the high one as
// 4 (Llama 3.x's own values). Empty for another scaling type, or when no such parameters give every
// frequency within 1e-5.
std::optional<RopeScaling> llama3_scaling_of_factors(const ModelConfig& config);

}  // namespace scalebits::model
