#pragma once
// llama2.c checkpoints (Karpathy's run.c format, "version 0"): a header of 7 int32 (dim, hidden_dim,
// n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means the classifier has
// its own weights), then fp32 weights in run.c's order. Tensors come back under canonical names;
// q/k rows are converted to rotate-half order (owned), every other tensor is a span into the map.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "core/io/host_tensor.h"
#include "core/base/model_config.h"

namespace scalebits::io {

struct Llama2cHeader {
    std::int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    bool shared_classifier;  // vocab_size was positive in the file
};

inline constexpr std::size_t kLlama2cHeaderBytes = 7 * 4;

// Reads the header from the first 28 bytes; nullopt when fewer bytes are given.
std::optional<Llama2cHeader> llama2c_header(std::span<const std::uint8_t> bytes);

// The exact file size the header implies, or -1 when the header is implausible (non-positive
// fields, heads not dividing dim, an odd head size) or the size overflows.
std::int64_t llama2c_expected_size(const Llama2cHeader& h);

struct Llama2cModel {
    model::ModelConfig config;
    std::map<std::string, HostTensor> tensors;
};

Llama2cModel read_llama2c(const std::filesystem::path& file);

// The tokenizer file to use: `explicit_path` if given, else tokenizer.bin or tok<vocab>.bin beside
// the model; nullopt when none exists.
std::optional<std::filesystem::path> find_llama2c_tokenizer(const std::filesystem::path& model_file,
                                                            std::int64_t vocab_size,
                                                            const std::optional<std::filesystem::path>& explicit_path);

}  // namespace scalebits::io
