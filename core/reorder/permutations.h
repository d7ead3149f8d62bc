#pragma once
// The free permutations of a Llama decoder (DESIGN.md 2.2): plain vectors (no LibTorch, so the
// analysis file that stores them is read by the parsers' library). Where each one lands in the
// weights is matrix_index.h.
// Convention everywhere: perm[new] = old, i.e. position `new` of the reordered layout holds what
// was at index `old` (a gather, as index_select does). An empty vector means identity.
//  - hidden: one global permutation of the residual dimension: columns of q, k, v, gate, up; rows
//    of o and down; embedding and lm_head columns; every RMSNorm weight.
//  - ffn[l]: the MLP's intermediate dimension of layer l: rows of gate and up, columns of down.
//  - heads[l]: KV heads of layer l, each moving with its n_heads/n_kv_heads query heads as one
//    block: q/k/v rows and o columns. Dimensions inside a q/k head never move (RoPE pairs them).
//  - v_dims[l]: inside each KV head, the head_dim rows of v and, with them, the matching column of
//    o for every query head of the group. Entry [g * head_dim + d] is the old in-head dimension now
//    at dimension d of the KV head now at position g.
#include <cstdint>
#include <vector>

#include "core/base/model_config.h"

namespace scalebits::reorder {

struct Permutations {
    std::vector<std::int64_t> hidden;
    std::vector<std::vector<std::int64_t>> ffn;
    std::vector<std::vector<std::int64_t>> heads;
    std::vector<std::vector<std::int64_t>> v_dims;

    bool is_identity() const;
};

// Throws InputError when a non-empty vector is not a permutation of the right length, or a
// per-layer list does not have one entry per layer (or none).
void validate(const Permutations& perms, const model::ModelConfig& config);

// Uniformly random permutations of every dimension (heads and v_dims only when asked); for tests
// and for measuring what a sensitivity-driven order buys over an arbitrary one.
Permutations random_permutations(const model::ModelConfig& config, std::uint64_t seed, bool heads = true);

// perm^-1: inverse(p)[p[i]] = i. Applying p then inverse(p) is the identity.
std::vector<std::int64_t> inverse(const std::vector<std::int64_t>& perm);

}  // namespace scalebits::reorder
