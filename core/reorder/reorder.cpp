#include "core/reorder/reorder.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <string>

#include "core/reorder/matrix_index.h"
#include "core/util/error.h"

namespace scalebits::reorder {

using calib::LinearSensitivity;
using model::LinearKind;

namespace {

std::vector<double> to_vector(const torch::Tensor& t) {
    auto c = t.detach().to(torch::kCPU, torch::kDouble).contiguous();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

void add(std::vector<double>& acc, const std::vector<double>& v, const std::string& what) {
    if (acc.size() != v.size()) throw InputError("sensitivity of " + what + " does not fit the model config");
    for (std::size_t i = 0; i < acc.size(); ++i) acc[i] += v[i];
}

// Indices sorted by score, descending; equal scores keep their original order.
std::vector<std::int64_t> order_by(const std::vector<double>& score) {
    std::vector<std::int64_t> idx(score.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](std::int64_t a, std::int64_t b) {
        return score[static_cast<std::size_t>(a)] > score[static_cast<std::size_t>(b)];
    });
    return idx;
}

torch::Tensor gather2(const torch::Tensor& t, const MatrixIndex& m) {
    torch::Tensor out = t;
    if (m.rows.defined()) out = out.index_select(0, m.rows.to(t.device()));
    if (m.cols.defined()) out = out.index_select(1, m.cols.to(t.device()));
    return out.contiguous();
}

torch::Tensor gather1(const torch::Tensor& t, const torch::Tensor& idx) {
    if (!t.defined() || !idx.defined()) return t;
    return t.index_select(0, idx.to(t.device())).contiguous();
}

}  // namespace

Marginals marginals(const LinearSensitivity& s, ReorderOptions::Source source, const std::string& what) {
    torch::NoGradGuard no_grad;
    if (source == ReorderOptions::Source::Fisher) {
        if (!s.fisher.defined()) throw InputError("reordering by Fisher needs the per-weight Fisher of " + what);
        return {to_vector(s.fisher.sum(1, false, torch::kDouble)), to_vector(s.fisher.sum(0, false, torch::kDouble))};
    }
    if (!s.r.defined() || !s.c.defined()) throw InputError("reordering by r c^T needs r and c of " + what);
    // Row i of r c^T sums to r_i * sum(c); column j to c_j * sum(r).
    const auto r = s.r.to(torch::kDouble), c = s.c.to(torch::kDouble);
    return {to_vector(r * c.sum()), to_vector(c * r.sum())};
}

Permutations compute_permutations(const calib::Sensitivity& sens, const model::ModelConfig& c,
                                  const ReorderOptions& options) {
    if (static_cast<std::int64_t>(sens.layers.size()) != c.n_layers)
        throw InputError("the sensitivity statistics have " + std::to_string(sens.layers.size()) +
                         " layers, the model has " + std::to_string(c.n_layers));
    std::vector<LayerMarginals> layers(sens.layers.size());
    for (int l = 0; l < c.n_layers; ++l)
        for (int k = 0; k < model::kLinearKinds; ++k) {
            const auto kind = static_cast<LinearKind>(k);
            layers[static_cast<std::size_t>(l)][static_cast<std::size_t>(k)] =
                marginals(sens.layers[static_cast<std::size_t>(l)][kind], options.source, model::linear_weight_name(l, kind));
        }
    return permutations_from_marginals(layers, c, options);
}

Permutations permutations_from_marginals(const std::vector<LayerMarginals>& layers, const model::ModelConfig& c,
                                         const ReorderOptions& options) {
    if (static_cast<std::int64_t>(layers.size()) != c.n_layers)
        throw InputError("the sensitivity statistics have " + std::to_string(layers.size()) +
                         " layers, the model has " + std::to_string(c.n_layers));
    const std::int64_t hd = c.head_dim, rep = c.n_heads / c.n_kv_heads;
    Permutations p;
    std::vector<double> hidden(static_cast<std::size_t>(c.dim), 0.0);
    for (int l = 0; l < c.n_layers; ++l) {
        const LayerMarginals& m = layers[static_cast<std::size_t>(l)];
        auto of = [&](LinearKind kind) -> const Marginals& { return m[static_cast<std::size_t>(kind)]; };
        const std::string name = "layer " + std::to_string(l);
        for (auto kind : {LinearKind::Q, LinearKind::K, LinearKind::V, LinearKind::Gate, LinearKind::Up})
            add(hidden, of(kind).cols, name);
        for (auto kind : {LinearKind::O, LinearKind::Down}) add(hidden, of(kind).rows, name);

        if (options.ffn) {
            std::vector<double> ffn(static_cast<std::size_t>(c.hidden_dim), 0.0);
            add(ffn, of(LinearKind::Gate).rows, name);
            add(ffn, of(LinearKind::Up).rows, name);
            add(ffn, of(LinearKind::Down).cols, name);
            p.ffn.push_back(order_by(ffn));
        }
        if (options.heads) {
            std::vector<double> score(static_cast<std::size_t>(c.n_kv_heads), 0.0);
            for (std::int64_t g = 0; g < c.n_kv_heads; ++g) {
                double s = 0.0;
                for (std::int64_t i = 0; i < rep * hd; ++i)
                    s += of(LinearKind::Q).rows.at(static_cast<std::size_t>(g * rep * hd + i)) +
                         of(LinearKind::O).cols.at(static_cast<std::size_t>(g * rep * hd + i));
                for (std::int64_t i = 0; i < hd; ++i)
                    s += of(LinearKind::K).rows.at(static_cast<std::size_t>(g * hd + i)) +
                         of(LinearKind::V).rows.at(static_cast<std::size_t>(g * hd + i));
                score[static_cast<std::size_t>(g)] = s;
            }
            p.heads.push_back(order_by(score));
        }
        if (options.v_dims) {
            // For the KV head now at position g (old head G), order its dims by v row + o columns.
            std::vector<std::int64_t> vd;
            for (std::int64_t g = 0; g < c.n_kv_heads; ++g) {
                const std::int64_t G = options.heads ? p.heads.back()[static_cast<std::size_t>(g)] : g;
                std::vector<double> score(static_cast<std::size_t>(hd), 0.0);
                for (std::int64_t d = 0; d < hd; ++d) {
                    double s = of(LinearKind::V).rows.at(static_cast<std::size_t>(G * hd + d));
                    for (std::int64_t r = 0; r < rep; ++r)
                        s += of(LinearKind::O).cols.at(static_cast<std::size_t>((G * rep + r) * hd + d));
                    score[static_cast<std::size_t>(d)] = s;
                }
                const auto order = order_by(score);
                vd.insert(vd.end(), order.begin(), order.end());
            }
            p.v_dims.push_back(std::move(vd));
        }
    }
    if (options.hidden) p.hidden = order_by(hidden);
    validate(p, c);
    return p;
}

void apply_to_layer(model::DecoderLayer& layer, const Permutations& p, const model::ModelConfig& c, int l) {
    torch::NoGradGuard no_grad;
    for (int k = 0; k < model::kLinearKinds; ++k) {
        const auto kind = static_cast<LinearKind>(k);
        auto& lin = layer.linear(kind);
        if (lin.override_op)
            throw InputError("cannot reorder " + model::linear_weight_name(l, kind) + ": it runs a packed kernel");
        const bool grad = lin.weight.requires_grad();
        const MatrixIndex m = matrix_index(p, c, l, kind, lin.weight.device());
        lin.weight = gather2(lin.weight, m);
        if (grad) lin.weight.requires_grad_(true);
        // A bias belongs to its output rows and moves with them (P_hidden for o/down, P_ffn for
        // gate/up, heads and v dims for q/k/v). q/k head norms act inside each head, whose rows
        // are never permuted (RoPE pairs), and whole heads share one norm, so they stay.
        lin.bias = gather1(lin.bias, m.rows);
    }
    if (p.hidden.empty()) return;
    const auto h = torch::tensor(p.hidden, torch::kLong).to(layer.attn_norm.device());
    layer.attn_norm = gather1(layer.attn_norm, h);
    layer.ffn_norm = gather1(layer.ffn_norm, h);
}

void apply_to_model(model::LlamaModel& model, const Permutations& p) {
    const auto& c = model.config();
    validate(p, c);
    torch::NoGradGuard no_grad;
    const auto device = model.device();
    for (int l = 0; l < c.n_layers; ++l) apply_to_layer(model.layers()[static_cast<std::size_t>(l)], p, c, l);
    if (p.hidden.empty()) return;
    const auto h = torch::tensor(p.hidden, torch::kLong).to(device);
    model.final_norm() = gather1(model.final_norm(), h);
    const bool tied = model.tied();
    model.embedding() = model.embedding().index_select(1, h).contiguous();
    // Tied: lm_head is the embedding (one tensor, permuted once).
    model.lm_head() = tied ? model.embedding() : model.lm_head().index_select(1, h).contiguous();
}

calib::Sensitivity permute_sensitivity(const calib::Sensitivity& sens, const Permutations& p,
                                       const model::ModelConfig& c) {
    validate(p, c);
    if (static_cast<std::int64_t>(sens.layers.size()) != c.n_layers)
        throw InputError("the sensitivity statistics have " + std::to_string(sens.layers.size()) +
                         " layers, the model has " + std::to_string(c.n_layers));
    calib::Sensitivity out = sens;  // scalars; every tensor below is replaced by a gathered copy
    for (int l = 0; l < c.n_layers; ++l)
        out.layers[static_cast<std::size_t>(l)] = permute_layer_sensitivity(sens.layers[static_cast<std::size_t>(l)], p, c, l);
    return out;
}

calib::LayerSensitivity permute_layer_sensitivity(calib::LayerSensitivity src, const Permutations& p,
                                                  const model::ModelConfig& c, int l) {
    torch::NoGradGuard no_grad;
    calib::LayerSensitivity dst;
    for (int k = 0; k < model::kLinearKinds; ++k) {
        const auto kind = static_cast<LinearKind>(k);
        const MatrixIndex m = matrix_index(p, c, l, kind);
        auto& s = src[kind];
        auto& d = dst[kind];
        d.fisher = s.fisher.defined() ? gather2(s.fisher, m) : s.fisher;
        d.r = gather1(s.r, m.rows);
        d.c = gather1(s.c, m.cols);
        if (s.r.defined() && !m.rows.defined()) d.r = s.r.clone();
        if (s.c.defined() && !m.cols.defined()) d.c = s.c.clone();
        s = {};
        // H of a site follows the columns of the site's consumers (all consumers of one site share
        // its column gather): gathered for the first consumer, whose source is then dropped.
        auto& hs = src.hessian_of(kind);
        if (hs.defined() && !dst.hessian_of(kind).defined()) {
            dst.hessian_of(kind) = m.cols.defined() ? gather2(hs, {m.cols, m.cols}) : hs.clone();
            hs = torch::Tensor();
        }
    }
    return dst;
}

}  // namespace scalebits::reorder
