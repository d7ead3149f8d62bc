#pragma once
// Constructors for every tokenizer source the loaders meet. Each throws InputError/FormatError
// naming the file (or `source`) and the problem.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/base/gguf_vocab.h"
#include "core/tokenizer/tokenizer.h"

namespace scalebits::tokenizer {

std::shared_ptr<const Tokenizer> make_gguf_tokenizer(const GgufVocab& vocab, const std::string& source);

// Hugging Face tokenizer.json (byte-level BPE with its pre-tokenizer).
std::shared_ptr<const Tokenizer> load_tokenizer_json(const std::filesystem::path& path);

// llama2.c tokenizer.bin (max_token_length, then score/len/bytes per token), vocab_size entries.
std::shared_ptr<const Tokenizer> load_llama2c_tokenizer(const std::filesystem::path& path, std::int32_t vocab_size);

}  // namespace scalebits::tokenizer
