#include "core/reorder/permutations.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <string>

#include "core/util/error.h"

namespace scalebits::reorder {

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

}  // namespace scalebits::reorder
