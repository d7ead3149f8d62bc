#pragma once
// A loaded checkpoint in one canonical form, whatever the file format:
//  - tensor names are Hugging Face Llama names ("model.embed_tokens.weight",
//    "model.layers.{i}.self_attn.q_proj.weight", "model.layers.{i}.mlp.gate_proj.weight",
//    "model.layers.{i}.input_layernorm.weight", "model.layers.{i}.post_attention_layernorm.weight",
//    "model.norm.weight", "lm_head.weight" unless tied), shapes in PyTorch order ({out, in});
//  - q_proj/k_proj rows are in the rotate-half RoPE layout (Hugging Face). Loaders of formats that
//    store the interleaved-pair layout (llama2.c, GGUF llama) permute those rows at load.
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/io/host_tensor.h"
#include "core/io/packed_export.h"
#include "core/base/model_config.h"
#include "core/tokenizer/tokenizer.h"

namespace scalebits::model {

struct Checkpoint {
    ModelConfig config;
    std::map<std::string, io::HostTensor> tensors;
    // Packed quantized linear weights of an exported model (by weight name); their names are not
    // in `tensors`. The model runs them through the kernels, never as a dense copy.
    std::map<std::string, io::PackedLinear> packed;
    nlohmann::json quantization;  // the export's quantization_config (null otherwise)
    std::shared_ptr<const tokenizer::Tokenizer> tokenizer;  // null when the format has none
    std::filesystem::path path;
    std::filesystem::path tokenizer_source;  // the file the tokenizer came from (may be `path` itself)
    std::string format;  // "gguf", "safetensors", "llama2c", "scalebits-export"

    const io::HostTensor& tensor(const std::string& name) const;  // throws InputError if absent
    bool has(const std::string& name) const { return tensors.count(name) != 0; }
};

// Detects the format from the path (file magic, folder contents) and loads it. tokenizer_path is
// for formats that keep the tokenizer apart (llama2.c tokenizer.bin, or to override). Pickle
// checkpoints are refused with a message that says to convert them to safetensors.
Checkpoint load_checkpoint(const std::filesystem::path& model_path,
                           const std::optional<std::filesystem::path>& tokenizer_path = std::nullopt);

// The same checkpoint with every packed matrix dequantized (kernels' reference) into an fp32
// tensor: the dense counterpart an exported model is benchmarked against.
Checkpoint dequantized_copy(const Checkpoint& checkpoint);

}  // namespace scalebits::model
