#pragma once
// Synthetic Llama-shaped checkpoints with random weights, for measuring memory and time at sizes
// this machine has no real model of (0.3B-8B). A Hugging Face folder: config.json and one
// model.safetensors in BF16 (or F32), every tensor of canonical_tensors(config) generated piece by
// piece while the file is written, so making a 16 GB model needs no more than 64 MiB of memory.
// Deterministic for a seed. Values: linear weights and the untied lm_head uniform with standard
// deviation 1/sqrt(inputs), each input column scaled by a log-normal factor (a few channels
// dominate, as outlier channels do in trained models, so reordering has something to find);
// embedding rows with standard deviation 1; norms 1; biases 0.01.
#include <cstdint>
#include <filesystem>
#include <string>

#include "core/base/model_config.h"
#include "core/util/cancel.h"

namespace scalebits::model {

struct SyntheticModelOptions {
    ModelConfig config;          // the shape; family and switches as given
    std::string dtype = "BF16";  // "BF16" or "F32"
    std::uint64_t seed = 1;
    std::filesystem::path tokenizer_json;  // copied into the folder when given
};

struct SyntheticModelInfo {
    std::uint64_t parameters = 0;
    std::uint64_t bytes = 0;  // of model.safetensors
};

// Writes `folder` (created; an existing model.safetensors there is replaced atomically). Throws
// InputError on an invalid config or dtype; CancelledError through `progress` (every 64 MiB).
SyntheticModelInfo write_synthetic_model(const SyntheticModelOptions& options, const std::filesystem::path& folder,
                                         const Progress& progress = {});

}  // namespace scalebits::model
