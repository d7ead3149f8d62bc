#pragma once
// The tokenizer.ggml.* metadata of a GGUF file as plain values: the GGUF reader (io) fills it, the
// tokenizer library builds a tokenizer from it, so neither depends on the other.
#include <cstdint>
#include <string>
#include <vector>

namespace scalebits::tokenizer {

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

}  // namespace scalebits::tokenizer
