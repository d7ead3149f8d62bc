#include "core/reorder/matrix_index.h"

#include <torch/torch.h>

namespace scalebits::reorder {

using model::LinearKind;

namespace {

const std::vector<std::int64_t>* layer_perm(const std::vector<std::vector<std::int64_t>>& list, int layer) {
    if (list.empty() || list[static_cast<std::size_t>(layer)].empty()) return nullptr;
    return &list[static_cast<std::size_t>(layer)];
}

torch::Tensor to_index(const std::vector<std::int64_t>& v, torch::Device device) {
    return torch::tensor(v, torch::kLong).to(device);
}

}  // namespace

MatrixIndex matrix_index(const Permutations& p, const model::ModelConfig& c, int layer, LinearKind kind,
                         torch::Device device) {
    const std::int64_t hd = c.head_dim, rep = c.n_heads / c.n_kv_heads;
    const auto* heads = layer_perm(p.heads, layer);
    const auto* vdims = layer_perm(p.v_dims, layer);
    const auto* ffn = layer_perm(p.ffn, layer);
    // Old KV head at new position g.
    auto head_at = [&](std::int64_t g) { return heads ? (*heads)[static_cast<std::size_t>(g)] : g; };
    auto vdim_at = [&](std::int64_t g, std::int64_t d) {
        return vdims ? (*vdims)[static_cast<std::size_t>(g * hd + d)] : d;
    };
    // Rows of q (rep query heads per KV head) or k (one head): whole head blocks move.
    auto head_block_rows = [&](std::int64_t heads_per_group) {
        std::vector<std::int64_t> idx;
        const std::int64_t block = heads_per_group * hd;
        for (std::int64_t g = 0; g < c.n_kv_heads; ++g)
            for (std::int64_t i = 0; i < block; ++i) idx.push_back(head_at(g) * block + i);
        return idx;
    };
    MatrixIndex m;
    const bool attn_perm = heads || vdims;
    switch (kind) {
        case LinearKind::Q:
        case LinearKind::K:
            if (heads) m.rows = to_index(head_block_rows(kind == LinearKind::Q ? rep : 1), device);
            if (!p.hidden.empty()) m.cols = to_index(p.hidden, device);
            break;
        case LinearKind::V:
            if (attn_perm) {
                std::vector<std::int64_t> idx;
                for (std::int64_t g = 0; g < c.n_kv_heads; ++g)
                    for (std::int64_t d = 0; d < hd; ++d) idx.push_back(head_at(g) * hd + vdim_at(g, d));
                m.rows = to_index(idx, device);
            }
            if (!p.hidden.empty()) m.cols = to_index(p.hidden, device);
            break;
        case LinearKind::O:
            if (!p.hidden.empty()) m.rows = to_index(p.hidden, device);
            if (attn_perm) {
                // Query head r of the group at new position g reads the v rows of that group, so its
                // o columns follow the same in-head order.
                std::vector<std::int64_t> idx;
                for (std::int64_t g = 0; g < c.n_kv_heads; ++g)
                    for (std::int64_t r = 0; r < rep; ++r)
                        for (std::int64_t d = 0; d < hd; ++d) idx.push_back((head_at(g) * rep + r) * hd + vdim_at(g, d));
                m.cols = to_index(idx, device);
            }
            break;
        case LinearKind::Gate:
        case LinearKind::Up:
            if (ffn) m.rows = to_index(*ffn, device);
            if (!p.hidden.empty()) m.cols = to_index(p.hidden, device);
            break;
        case LinearKind::Down:
            if (!p.hidden.empty()) m.rows = to_index(p.hidden, device);
            if (ffn) m.cols = to_index(*ffn, device);
            break;
    }
    return m;
}

}  // namespace scalebits::reorder
