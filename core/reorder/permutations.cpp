#include "core/reorder/permutations.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <string>

#include "core/util/error.h"

namespace scalebits::reorder {

using model::LinearKind;

bool Permutations::is_identity() const {
    auto ident = [](const std::vector<std::int64_t>& p) {
        for (std::size_t i = 0; i < p.size(); ++i)
            if (p[i] != static_cast<std::int64_t>(i)) return false;
        return true;
    };
    if (!ident(hidden)) return false;
    for (const auto* list : {&ffn, &heads, &v_dims})
        for (const auto& p : *list)
            if (!ident(p)) return false;
    return true;
}

namespace {

void check_perm(const std::vector<std::int64_t>& p, std::int64_t n, const std::string& what) {
    if (p.empty()) return;
    if (static_cast<std::int64_t>(p.size()) != n)
        throw InputError(what + " permutation has " + std::to_string(p.size()) + " entries, expected " + std::to_string(n));
    std::vector<char> seen(static_cast<std::size_t>(n), 0);
    for (auto v : p) {
        if (v < 0 || v >= n || seen[static_cast<std::size_t>(v)])
            throw InputError(what + " permutation is not a permutation of 0.." + std::to_string(n - 1));
        seen[static_cast<std::size_t>(v)] = 1;
    }
}

void check_list(const std::vector<std::vector<std::int64_t>>& list, const model::ModelConfig& c, std::int64_t n,
                const std::string& what) {
    if (list.empty()) return;
    if (static_cast<std::int64_t>(list.size()) != c.n_layers)
        throw InputError(what + " permutations are given for " + std::to_string(list.size()) + " layers, the model has " +
                         std::to_string(c.n_layers));
    for (std::size_t l = 0; l < list.size(); ++l) check_perm(list[l], n, what + "[" + std::to_string(l) + "]");
}

// v_dims entries permute within each block of head_dim.
void check_v_dims(const std::vector<std::vector<std::int64_t>>& list, const model::ModelConfig& c) {
    if (list.empty()) return;
    if (static_cast<std::int64_t>(list.size()) != c.n_layers)
        throw InputError("v_dims permutations are given for " + std::to_string(list.size()) + " layers, the model has " +
                         std::to_string(c.n_layers));
    for (std::size_t l = 0; l < list.size(); ++l) {
        if (list[l].empty()) continue;
        if (static_cast<std::int64_t>(list[l].size()) != c.n_kv_heads * c.head_dim)
            throw InputError("v_dims[" + std::to_string(l) + "] has " + std::to_string(list[l].size()) +
                             " entries, expected " + std::to_string(c.n_kv_heads * c.head_dim));
        for (std::int64_t g = 0; g < c.n_kv_heads; ++g) {
            std::vector<std::int64_t> block(list[l].begin() + g * c.head_dim, list[l].begin() + (g + 1) * c.head_dim);
            check_perm(block, c.head_dim, "v_dims[" + std::to_string(l) + "] head " + std::to_string(g));
        }
    }
}

const std::vector<std::int64_t>* layer_perm(const std::vector<std::vector<std::int64_t>>& list, int layer) {
    if (list.empty() || list[static_cast<std::size_t>(layer)].empty()) return nullptr;
    return &list[static_cast<std::size_t>(layer)];
}

torch::Tensor to_index(const std::vector<std::int64_t>& v, torch::Device device) {
    return torch::tensor(v, torch::kLong).to(device);
}

std::vector<std::int64_t> shuffled(std::int64_t n, std::mt19937_64& rng) {
    std::vector<std::int64_t> p(static_cast<std::size_t>(n));
    std::iota(p.begin(), p.end(), 0);
    // Fisher-Yates with a modulo draw: deterministic across standard libraries.
    for (std::int64_t i = n - 1; i > 0; --i)
        std::swap(p[static_cast<std::size_t>(i)], p[static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(i + 1))]);
    return p;
}

}  // namespace

void validate(const Permutations& p, const model::ModelConfig& c) {
    check_perm(p.hidden, c.dim, "hidden");
    check_list(p.ffn, c, c.hidden_dim, "ffn");
    check_list(p.heads, c, c.n_kv_heads, "heads");
    check_v_dims(p.v_dims, c);
}

Permutations random_permutations(const model::ModelConfig& c, std::uint64_t seed, bool heads) {
    std::mt19937_64 rng(seed);
    Permutations p;
    p.hidden = shuffled(c.dim, rng);
    for (std::int64_t l = 0; l < c.n_layers; ++l) {
        p.ffn.push_back(shuffled(c.hidden_dim, rng));
        if (!heads) continue;
        p.heads.push_back(shuffled(c.n_kv_heads, rng));
        std::vector<std::int64_t> vd;
        for (std::int64_t g = 0; g < c.n_kv_heads; ++g) {
            auto block = shuffled(c.head_dim, rng);
            vd.insert(vd.end(), block.begin(), block.end());
        }
        p.v_dims.push_back(std::move(vd));
    }
    return p;
}

std::vector<std::int64_t> inverse(const std::vector<std::int64_t>& perm) {
    std::vector<std::int64_t> inv(perm.size());
    for (std::size_t i = 0; i < perm.size(); ++i) inv[static_cast<std::size_t>(perm[i])] = static_cast<std::int64_t>(i);
    return inv;
}

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
