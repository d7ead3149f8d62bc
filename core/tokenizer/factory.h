#pragma once
// Constructors for every tokenizer source the loaders meet. Each throws InputError/FormatError
// naming the file (or `source`) and the problem.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace scalebits::tokenizer {

// The tokenizer.ggml.* metadata of a GGUF file, as plain values (filled by the GGUF reader).
struct GgufVocab {
    std::string model;  // "gpt2" (byte-level BPE with merges) or "llama" (SentencePiece with scores)
    std::string pre;    // pre-tokenizer name, e.g. "smollm", "llama3", "default"
    std::vector<std::string> tokens;
    std::vector<float> scores;            // may be empty for gpt2
    std::vector<std::int32_t> token_types;  // may be empty
    std::vector<std::string> merges;      // "a b" pairs, gpt2 only
    std::int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
    bool add_bos = false;
    bool add_space_prefix = true;  // llama/SentencePiece only
};

std::shared_ptr<const Tokenizer> make_gguf_tokenizer(const GgufVocab& vocab, const std::string& source);

// Hugging Face tokenizer.json (byte-level BPE with its pre-tokenizer).
std::shared_ptr<const Tokenizer> load_tokenizer_json(const std::filesystem::path& path);

// llama2.c tokenizer.bin (max_token_length, then score/len/bytes per token), vocab_size entries.
std::shared_ptr<const Tokenizer> load_llama2c_tokenizer(const std::filesystem::path& path, std::int32_t vocab_size);

}  // namespace scalebits::tokenizer
