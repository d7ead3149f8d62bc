#pragma once
// Forward passes without the whole model in memory (DESIGN.md 6, "Streaming by layer"): the
// activations of a group of windows go through layer 0, then layer 1, ..., each layer handed out by
// a source (loaded from the checkpoint in its stored type, and for a quantized model permuted and
// fake-quantized) once per group and dropped. Several models can share one pass over the windows
// (a quantized model beside its full-precision original), each with its own residual stream.
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "core/model/checkpoint.h"
#include "core/model/llama.h"
#include "core/util/cancel.h"

namespace scalebits::eval {

// Layer `index` of a model, in fp32 on the pass's device.
using LayerSource = std::function<model::DecoderLayer(int index)>;

struct StreamedModel {
    LayerSource layer;
    // P_hidden (perm[new] = old) of the layout the layers are in; empty for the checkpoint's own. The
    // embedding rows enter in this order and the final hidden states leave in the checkpoint's.
    std::vector<std::int64_t> hidden;
    // Where the model's embedding and lm_head are read (in the checkpoint's own layout): a checkpoint
    // with fake-quantized vocabulary matrices; null for the pass's checkpoint.
    const model::Checkpoint* ends = nullptr;
};

// The checkpoint's own layers (their mapped pages handed back once converted).
StreamedModel checkpoint_layers(const model::Checkpoint& checkpoint, torch::Device device);

// Final hidden states (before the final norm) of windows [first, first + count), one {count, ctx, dim}
// fp32 CPU tensor per model, in the checkpoint's hidden order.
using GroupSink = std::function<void(std::int64_t first, const std::vector<torch::Tensor>& finals)>;

// Runs `windows` ({n, ctx} token ids) through every model, layer-outer, in groups of windows whose
// activations (a layer's input and output per model) fit `activation_bytes`, `batch` windows per
// layer call. Progress: one unit per layer per group. Throws InputError on a token outside the
// vocabulary; CancelledError through `progress`.
void forward_layer_outer(const model::Checkpoint& checkpoint, torch::Device device, const torch::Tensor& windows,
                         const std::vector<StreamedModel>& models, std::int64_t batch, std::uint64_t activation_bytes,
                         const Progress& progress, const GroupSink& sink);

// Windows per group forward_layer_outer uses for `models` models.
std::int64_t windows_per_group(const model::ModelConfig& config, std::int64_t ctx, std::size_t models,
                               std::uint64_t activation_bytes);

}  // namespace scalebits::eval
