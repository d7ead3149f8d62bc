#pragma once
// The canonical tensors of a Llama-family decoder: Hugging Face names and PyTorch shapes ({out, in}),
// derived from the config alone. Loaders check checkpoints against this list, the model reads it,
// and the export writes the unquantized part of it, so the three always agree. Part of the
// Torch-free base (core/base) that the parsers, the allocator and the explorer's item models share.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/base/model_config.h"

namespace scalebits::model {

// The seven linear matrices of a decoder layer, in a fixed order.
enum class LinearKind { Q, K, V, O, Gate, Up, Down };
constexpr int kLinearKinds = 7;
const char* linear_kind_name(LinearKind kind);               // "q_proj", ..., "down_proj"
std::string linear_weight_name(int layer, LinearKind kind);  // "model.layers.3.self_attn.q_proj.weight"
std::string linear_bias_name(int layer, LinearKind kind);    // "model.layers.3.self_attn.q_proj.bias"
// {rows (out), cols (in)} of a linear matrix in a model of `config`.
std::pair<std::int64_t, std::int64_t> linear_shape(const ModelConfig& config, LinearKind kind);

struct TensorSpec {
    enum class Role { Embedding, LmHead, FinalNorm, AttnNorm, FfnNorm, LinearWeight, LinearBias, QNorm, KNorm };
    std::string name;
    std::vector<std::int64_t> shape;
    Role role;
    int layer = -1;                      // -1 for the global tensors
    LinearKind kind = LinearKind::Q;     // LinearWeight / LinearBias only
};

// Every tensor a checkpoint of `config` holds: the embedding, the final norm, an untied lm_head, and
// per layer the two norms, the seven linear weights, the biases the config names and Qwen3's
// per-head q/k norms. Order: global tensors first, then layer by layer.
std::vector<TensorSpec> canonical_tensors(const ModelConfig& config);

}  // namespace scalebits::model
