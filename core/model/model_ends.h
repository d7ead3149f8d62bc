#pragma once
// The two ends of the decoder read from the checkpoint's tensors where they lie, in their stored
// type, for layer streaming: the embedding rows of given tokens, and the final norm + lm_head
// applied in chunks of vocabulary rows (64 MiB of fp32 at a time), so neither is ever whole in fp32
// (at Llama-3-8B's shape each would be 2.1 GB).
#include <torch/types.h>

#include "core/model/checkpoint.h"

namespace scalebits::model {

// {n, T, dim} fp32 on the CPU: embedding row of every token of `tokens` {n, T}. Throws InputError
// for an id outside the vocabulary.
torch::Tensor embed_tokens(const Checkpoint& checkpoint, const torch::Tensor& tokens);

class StreamedHead {
public:
    explicit StreamedHead(const Checkpoint& checkpoint);
    // The final RMSNorm (differentiable: autograd reaches h through it).
    torch::Tensor norm(const torch::Tensor& h) const;
    // logits = hn W^T, {.., vocab}, without autograd.
    torch::Tensor logits(const torch::Tensor& hn) const;
    // d(hn) = dlogits W, {.., dim}: the lm_head's backward.
    torch::Tensor backward(const torch::Tensor& dlogits) const;
    // Hands the lm_head's mapped pages back (after a pass over it).
    void release() const;

private:
    torch::Tensor chunk(std::int64_t first, std::int64_t rows) const;
    const io::HostTensor* weight_;
    torch::Tensor norm_weight_;
    double eps_;
    std::int64_t dim_, vocab_, chunk_rows_;
};

}  // namespace scalebits::model
