#pragma once
// Hugging Face config.json of a Llama-shaped decoder (LlamaForCausalLM, MistralForCausalLM) to
// ModelConfig. Other architectures are refused by name: their tensors or math differ (biases,
// rope scaling, norms), and a silent mis-load would give plausible-looking garbage.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/base/model_config.h"

namespace scalebits::io {

// Reads and validates; throws InputError naming the file and the field.
model::ModelConfig read_hf_config(const std::filesystem::path& config_json);
model::ModelConfig hf_config_from_json(const nlohmann::json& j, const std::filesystem::path& source);

// The config.json fields of a LlamaForCausalLM that hf_config_from_json reads back to `config`.
nlohmann::ordered_json hf_config_to_json(const model::ModelConfig& config);

}  // namespace scalebits::io
