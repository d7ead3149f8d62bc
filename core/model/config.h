#pragma once
// Hyper-parameters of a Llama-family decoder, whatever file they came from.
#include <cstdint>
#include <string>

namespace scalebits::model {

struct ModelConfig {
    std::string architecture = "llama";
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

    // Throws InputError (naming `source`) when a field is missing, non-positive or inconsistent.
    void validate(const std::string& source) const;
};

}  // namespace scalebits::model
