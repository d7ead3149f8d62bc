#pragma once
// The Llama-family decoder on LibTorch: embeddings, RMSNorm, rotate-half RoPE (optionally scaled),
// grouped-query attention with a causal mask (optionally a sliding window), optional q/k/v biases
// and per-head q/k RMSNorm, SwiGLU MLP, tied or separate lm_head. fp32 on CPU, and on CUDA when the
// LibTorch has it. Every linear weight is a plain tensor, so autograd can take gradients through
// the forward (calibration) and quantizers can replace weights in place (fake quantization).
#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/model/checkpoint.h"
#include "core/base/model_config.h"
#include "core/base/tensor_names.h"

namespace scalebits::model {

// A linear layer y = x W^T + b. `weight` is the dense fp32 weight; `override_op`, when set, replaces
// the dense product (the packed kernels of an exported model, whose `weight` stays undefined), so
// no dense copy is needed. `bias` (fp32, one value per output row) is undefined when the family has
// none; it is added after either product, never quantized.
struct Linear {
    torch::Tensor weight;  // {out, in}
    torch::Tensor bias;    // {out} or undefined
    std::function<torch::Tensor(const torch::Tensor&)> override_op;
    torch::Tensor operator()(const torch::Tensor& x) const;
};

struct DecoderLayer {
    torch::Tensor attn_norm, ffn_norm;
    torch::Tensor q_norm, k_norm;  // {head_dim}, Qwen3 only (undefined otherwise)
    Linear q, k, v, o, gate, up, down;
    Linear& linear(LinearKind kind);
    const Linear& linear(LinearKind kind) const;
};

// Keys and values of every layer for incremental decoding.
struct KVCache {
    std::vector<torch::Tensor> k, v;  // per layer {B, n_kv_heads, T, head_dim}
    std::int64_t length = 0;
};

// Called by forward() with the input of every linear layer (calibration statistics).
using LinearInputObserver = std::function<void(int layer, LinearKind kind, const torch::Tensor& input)>;
// Called with the output of every linear layer; the observer may register autograd hooks on it
// (output-gradient statistics for the factored Fisher).
using LinearOutputObserver = std::function<void(int layer, LinearKind kind, const torch::Tensor& output)>;

// x * rsqrt(mean(x^2) + eps) * w over the last dimension (every RMSNorm of the decoder).
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps);

// The tensor of `layer` that `spec` (a per-layer tensor of canonical_tensors) names; undefined for a
// global tensor or one the layer does not have.
torch::Tensor layer_parameter(const DecoderLayer& layer, const TensorSpec& spec);

// One decoder layer of the checkpoint in fp32 on `device` (what LlamaModel holds for every layer);
// layer streaming loads one at a time. With `release`, the layer's mapped file pages are handed back
// once converted, so a pass over the whole model keeps one layer resident. Throws like LlamaModel.
DecoderLayer load_decoder_layer(const Checkpoint& checkpoint, const ModelConfig& config, int layer,
                                torch::Device device = torch::kCPU, bool release = false);

// Where a model's weights live: all of them in fp32 (the default), or in the checkpoint in their stored
// type, one decoder layer converted to fp32 when forward() reaches it (and the embedding rows and the
// lm_head in chunks, model_ends.h). A streamed model runs any model whatever its size, slowly: every
// forward() reads the whole checkpoint; it holds no layers, embedding or lm_head tensors.
enum class Residency { Whole, Streamed };

class LlamaModel {
public:
    // Dequantizes the checkpoint's tensors to fp32 on `device`. Throws InputError on missing or
    // mis-shaped tensors and when a weight holds NaN or inf (named per tensor).
    explicit LlamaModel(const Checkpoint& checkpoint, torch::Device device = torch::kCPU);
    // With Residency::Streamed, `checkpoint` must outlive the model; only forward() and
    // forward_layer() use it (layers() is empty).
    LlamaModel(const Checkpoint& checkpoint, torch::Device device, Residency residency);
    // The decoder's arithmetic without weights (no layers, no embedding): for running layers loaded
    // one at a time through forward_layer. Validates the config like the constructor above.
    LlamaModel(const ModelConfig& config, const std::string& source, torch::Device device);

    const ModelConfig& config() const { return config_; }
    torch::Device device() const { return device_; }
    bool streamed() const { return streamed_ != nullptr; }

    // tokens {B, T} (int64). Returns logits {B, T, vocab} in fp32. With a cache, positions continue
    // from cache->length and the cache is extended.
    torch::Tensor forward(const torch::Tensor& tokens, KVCache* cache = nullptr) const;

    // One decoder layer (any layer of this config, held here or loaded apart) on the residual stream
    // h {B, T, dim}: h + attention, then + MLP, with the observers called as in forward().
    torch::Tensor forward_layer(const DecoderLayer& layer, int index, const torch::Tensor& h, std::int64_t start = 0,
                                KVCache* cache = nullptr) const;

    std::vector<DecoderLayer>& layers() { return layers_; }
    const std::vector<DecoderLayer>& layers() const { return layers_; }
    torch::Tensor& embedding() { return embed_; }
    torch::Tensor& final_norm() { return norm_; }
    // The output projection; aliases the embedding when tied. Undefined in an export whose
    // vocabulary matrices are packed.
    torch::Tensor& lm_head() { return lm_head_; }
    bool tied() const { return config_.tie_word_embeddings; }
    // The model's tensor for a canonical tensor of its config (tensor_names.h): norms, biases,
    // embedding, lm_head, a linear weight (undefined when that matrix runs packed).
    torch::Tensor parameter(const TensorSpec& spec) const;

    void set_input_observer(LinearInputObserver fn) { input_observer_ = std::move(fn); }
    void set_output_observer(LinearOutputObserver fn) { output_observer_ = std::move(fn); }

    // Every linear weight (7 per layer) requires grad or not.
    void set_linear_requires_grad(bool on);

    // Calls of forward() so far, from any thread. A forward is the unit of work of calibration and
    // evaluation, so this counts work independently of progress reports (how much ran after a cancel).
    std::uint64_t forward_passes() const { return forward_passes_.load(std::memory_order_relaxed); }

private:
    torch::Tensor attention(const DecoderLayer& layer, int index, const torch::Tensor& x, std::int64_t start,
                            KVCache* cache) const;
    torch::Tensor apply_linear(const Linear& lin, int layer, LinearKind kind, const torch::Tensor& x) const;

    ModelConfig config_;
    torch::Device device_;
    torch::Tensor embed_, norm_, lm_head_;
    std::vector<DecoderLayer> layers_;
    torch::Tensor inv_freq_;  // {head_dim/2}, RoPE scaling applied
    const Checkpoint* streamed_ = nullptr;  // Residency::Streamed: where the weights are read
    // An export whose vocabulary matrices are packed (whole-file allocations): the embedding rows of
    // the tokens are dequantized from it, and the lm_head product (the embedding's, when tied) runs
    // through the kernels. embed_ / lm_head_ stay undefined then.
    std::shared_ptr<const io::PackedLinear> embed_packed_;
    std::function<torch::Tensor(const torch::Tensor&)> head_op_;
    LinearInputObserver input_observer_;
    LinearOutputObserver output_observer_;
    mutable std::atomic<std::uint64_t> forward_passes_{0};
};

}  // namespace scalebits::model
