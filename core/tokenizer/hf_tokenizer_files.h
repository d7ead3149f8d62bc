#pragma once
// The Hugging Face tokenizer files of a GGUF byte-level BPE vocabulary (tokenizer.ggml.model "gpt2":
// SmolLM2, Llama 3, Qwen2/3), so a folder exported from a GGUF model loads in transformers, vLLM or
// lm-eval-harness like any other: tokenizer.json (the vocabulary, merges as pairs, the pre-tokenizer
// that tokenizer.ggml.pre names as Split steps then ByteLevel, NFC where the family has it, BOS
// added by a template where the vocabulary says so) and tokenizer_config.json (BOS, EOS, add_bos_token).
// Reading them back with load_tokenizer_json gives the GGUF tokenizer's ids.
#include <string>

#include "core/base/gguf_vocab.h"

namespace scalebits::tokenizer {

struct HfTokenizerFiles {
    std::string tokenizer_json;
    std::string tokenizer_config_json;
};

// Whether hf_tokenizer_files can write this vocabulary (SentencePiece vocabularies carry scores, not
// merges, and stay in GGUF form).
bool has_hf_tokenizer_files(const GgufVocab& vocab);

// Throws InputError naming `source` for a vocabulary has_hf_tokenizer_files refuses, or a merge that
// is not two tokens separated by a space.
HfTokenizerFiles hf_tokenizer_files(const GgufVocab& vocab, const std::string& source);

}  // namespace scalebits::tokenizer
