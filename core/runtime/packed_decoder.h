#pragma once
// The decode engine of exported (packed) models (DESIGN.md 6, "The runtime"): plain C++ on the
// kernels' thread pool, no LibTorch and no allocation per token. Every linear product goes through
// the packed kernels, the vocabulary matrices through the fp16 GEMV (they are stored unquantized),
// the KV cache is preallocated for `max_context` positions, and a prompt (or an evaluation window) is
// processed in chunks through the batched kernels. RMSNorm, rotate-half RoPE with the family's
// scaling, grouped-query attention (causal, with the sliding window), Qwen3's q/k head norms, biases
// and SwiGLU follow the LibTorch decoder (core/model/llama.h), which stays the reference the tests
// compare with.
#include <cstdint>
#include <memory>
#include <vector>

#include <scalebits/kernels.h>

#include "core/model/checkpoint.h"

namespace scalebits::runtime {

class PackedDecoder {
public:
    // `checkpoint` is an export (load_checkpoint of its folder) and must outlive the decoder.
    // Throws InputError when it is not packed, when a tensor is missing, or when max_context is not
    // in 1 .. the model's max_seq_len.
    PackedDecoder(const model::Checkpoint& checkpoint, std::int64_t max_context);
    ~PackedDecoder();
    PackedDecoder(const PackedDecoder&) = delete;
    PackedDecoder& operator=(const PackedDecoder&) = delete;

    const model::ModelConfig& config() const { return config_; }
    std::int64_t position() const { return position_; }  // positions in the KV cache
    std::int64_t max_context() const { return max_context_; }
    // Empties the KV cache (a new sequence).
    void reset() { position_ = 0; }

    // Appends `n` tokens at position() and returns the logits of the last one (vocab floats, valid
    // until the next call). With `all_logits` (n * vocab floats), every position's logits are written
    // there too. Throws InputError for a token outside the vocabulary or past max_context().
    const float* forward(const std::int32_t* tokens, std::int64_t n, float* all_logits = nullptr);

    // Bytes of weights one decode step reads: packed tiles and their headers, the lm_head, the norms
    // and biases, one embedding row.
    std::uint64_t weight_bytes_per_token() const { return bytes_per_token_; }
    // Bytes of the preallocated KV cache.
    std::uint64_t kv_cache_bytes() const;

private:
    struct Layer;
    void run_chunk(const std::int32_t* tokens, std::int64_t n, float* logits);
    void attention(const Layer& layer, int index, std::int64_t n);

    const model::Checkpoint& ckpt_;
    model::ModelConfig config_;
    std::int64_t max_context_ = 0, position_ = 0;
    std::vector<Layer> layers_;
    std::vector<float> final_norm_;
    const io::HostTensor* embedding_ = nullptr;
    const std::uint16_t* lm_head_ = nullptr;  // fp16 rows, vocab x dim
    // Whole-file allocations: the vocabulary matrices packed (the lookup dequantizes one row, the
    // lm_head runs through the kernels); null otherwise.
    const kernels::PackedMatrixView* embedding_packed_ = nullptr;
    const kernels::PackedMatrixView* lm_head_packed_ = nullptr;
    std::vector<std::uint16_t> lm_head_copy_; // when the file's lm_head is not fp16
    std::vector<float> cos_, sin_;            // [position][head_dim / 2]
    std::int64_t cache_stride_ = 0;           // max_context rounded up to whole score blocks
    std::vector<float> k_cache_;              // [layer][kv head][head_dim][cache_stride_]: keys transposed
    std::vector<float> v_cache_;              // [layer][kv head][position][head_dim]
    // Per-chunk buffers.
    std::vector<float> x_, xn_, q_, k_, v_, att_, proj_, gate_, up_, logits_, scores_;
    std::uint64_t bytes_per_token_ = 0;
};

}  // namespace scalebits::runtime
