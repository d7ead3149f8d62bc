#pragma once
// A GGUF file of a Llama-architecture model as canonical checkpoint pieces: ModelConfig from the
// llama.* metadata, tensors under Hugging Face names with q/k rows in rotate-half order, and the
// tokenizer.ggml.* vocabulary as plain values (the tokenizer library builds the tokenizer from it).
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "core/io/gguf.h"
#include "core/base/model_config.h"
#include "core/base/gguf_vocab.h"

namespace scalebits::io {

struct GgufLlama {
    model::ModelConfig config;
    std::map<std::string, HostTensor> tensors;  // canonical names
    std::optional<tokenizer::GgufVocab> vocab;  // absent when the file has no tokenizer.ggml.tokens
};

// The canonical name of a GGUF llama tensor ("blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight"),
// or nullopt for a name with no Llama equivalent.
std::optional<std::string> canonical_gguf_name(const std::string& gguf_name);

model::ModelConfig gguf_llama_config(const GgufFile& f);
std::optional<tokenizer::GgufVocab> gguf_vocab(const GgufFile& f);
GgufLlama gguf_to_llama(const GgufFile& f);

}  // namespace scalebits::io
