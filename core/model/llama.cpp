#include "core/model/llama.h"

#include <torch/torch.h>

#include <cmath>

#include <scalebits/kernels.h>

#include "core/model/model_ends.h"
#include "core/util/error.h"
#include "core/util/option_error.h"

namespace scalebits::model {

namespace {

// fp32 tensor owning the dequantized values of a checkpoint tensor (no second copy).
torch::Tensor to_torch(const io::HostTensor& t, torch::Device device) {
    auto* values = new std::vector<float>(t.to_float());
    std::vector<std::int64_t> shape(t.shape.begin(), t.shape.end());
    torch::Tensor out = torch::from_blob(values->data(), shape, [values](void*) { delete values; },
                                         torch::TensorOptions().dtype(torch::kFloat32));
    if (!torch::isfinite(out).all().item<bool>()) {
        const auto bad = (~torch::isfinite(out)).sum().item<std::int64_t>();
        throw InputError(t.name + " holds " + std::to_string(bad) + " NaN or infinite value(s)");
    }
    return device.is_cpu() ? out : out.to(device);
}

torch::Tensor load(const Checkpoint& ckpt, const std::string& name, std::vector<std::int64_t> shape,
                   torch::Device device) {
    const io::HostTensor& t = ckpt.tensor(name);
    if (t.shape != shape) {
        // Appended piece by piece: GCC 12 warns falsely (-Wstringop-overflow) on "x" + to_string(d).
        auto dims = [](const std::vector<std::int64_t>& v) {
            std::string s;
            for (auto d : v) s.append(s.empty() ? "" : "x").append(std::to_string(d));
            return s;
        };
        const std::string want = dims(shape), got = dims(t.shape);
        throw InputError(ckpt.path, "tensor " + name + " has shape " + got + ", the config implies " + want);
    }
    return to_torch(t, device);
}

// The product x W^T of a packed matrix through the CPU kernels, reading the tiles where they lie
// (the mapped export file). Inputs of any leading shape; fp32 out.
std::function<torch::Tensor(const torch::Tensor&)> packed_product(const io::PackedLinear& p) {
    return [p](const torch::Tensor& x) {
        const auto& g = p.view.grid;
        auto shape = x.sizes().vec();
        const auto x2 = x.reshape({-1, static_cast<std::int64_t>(g.cols)}).to(torch::kFloat32).contiguous();
        torch::Tensor y = torch::empty({x2.size(0), static_cast<std::int64_t>(g.rows)}, torch::kFloat32);
        kernels::gemm_cpu(p.view, x2.data_ptr<float>(), static_cast<int>(x2.size(0)), y.data_ptr<float>());
        shape.back() = static_cast<std::int64_t>(g.rows);
        return y.view(shape);
    };
}

Linear load_linear(const Checkpoint& ckpt, const std::string& name, std::vector<std::int64_t> shape,
                   torch::Device device) {
    Linear lin;
    if (auto it = ckpt.packed.find(name); it != ckpt.packed.end()) {
        if (!device.is_cpu())
            throw OptionError(Setting::Device, ckpt.path, "exported (packed) models run on the CPU in this build");
        const auto& g = it->second.view.grid;
        if (std::vector<std::int64_t>{std::int64_t(g.rows), std::int64_t(g.cols)} != shape)
            throw InputError(ckpt.path, "packed matrix " + name + " does not have the shape the config implies");
        lin.override_op = packed_product(it->second);
        return lin;
    }
    lin.weight = load(ckpt, name, std::move(shape), device);
    return lin;
}

torch::Tensor rotate_half(const torch::Tensor& x) {
    const auto half = x.size(-1) / 2;
    return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

}  // namespace

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
    return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps) * w;
}

torch::Tensor Linear::operator()(const torch::Tensor& x) const {
    if (override_op) return bias.defined() ? override_op(x) + bias : override_op(x);
    return bias.defined() ? torch::nn::functional::linear(x, weight, bias) : torch::nn::functional::linear(x, weight);
}

Linear& DecoderLayer::linear(LinearKind kind) {
    switch (kind) {
        case LinearKind::Q: return q;
        case LinearKind::K: return k;
        case LinearKind::V: return v;
        case LinearKind::O: return o;
        case LinearKind::Gate: return gate;
        case LinearKind::Up: return up;
        case LinearKind::Down: return down;
    }
    return q;
}

const Linear& DecoderLayer::linear(LinearKind kind) const {
    return const_cast<DecoderLayer*>(this)->linear(kind);
}

DecoderLayer load_decoder_layer(const Checkpoint& ckpt, const ModelConfig& c, int layer, torch::Device device,
                                bool release) {
    DecoderLayer l;
    using Role = TensorSpec::Role;
    for (const TensorSpec& t : canonical_tensors(c)) {
        if (t.layer != layer) continue;
        switch (t.role) {
            case Role::AttnNorm: l.attn_norm = load(ckpt, t.name, t.shape, device); break;
            case Role::FfnNorm: l.ffn_norm = load(ckpt, t.name, t.shape, device); break;
            case Role::QNorm: l.q_norm = load(ckpt, t.name, t.shape, device); break;
            case Role::KNorm: l.k_norm = load(ckpt, t.name, t.shape, device); break;
            case Role::LinearWeight: {
                Linear& lin = l.linear(t.kind);
                torch::Tensor bias = lin.bias;  // kept whatever the order of the list
                lin = load_linear(ckpt, t.name, t.shape, device);
                lin.bias = bias;
                break;
            }
            case Role::LinearBias: l.linear(t.kind).bias = load(ckpt, t.name, t.shape, device); break;
            default: break;
        }
        if (release && ckpt.has(t.name)) ckpt.tensor(t.name).release_pages();
    }
    return l;
}

LlamaModel::LlamaModel(const Checkpoint& ckpt, torch::Device device)
    : LlamaModel(ckpt, device, Residency::Whole) {}

LlamaModel::LlamaModel(const Checkpoint& ckpt, torch::Device device, Residency residency)
    : LlamaModel(ckpt.config, ckpt.path.string(), device) {
    if (residency == Residency::Streamed) {
        if (!ckpt.packed.empty())
            throw InputError(ckpt.path, "an exported (packed) model runs whole: its packed tiles are read where they lie");
        streamed_ = &ckpt;
        return;
    }
    const auto& c = config_;
    using Role = TensorSpec::Role;
    for (const TensorSpec& t : canonical_tensors(c)) {
        const auto packed = ckpt.packed.find(t.name);
        if (packed != ckpt.packed.end() && (t.role == Role::Embedding || t.role == Role::LmHead)) {
            const auto& g = packed->second.view.grid;
            if (static_cast<std::int64_t>(g.rows) != t.shape[0] || static_cast<std::int64_t>(g.cols) != t.shape[1])
                throw InputError(ckpt.path, "packed matrix " + t.name + " does not have the shape the config implies");
            if (!device.is_cpu())
                throw OptionError(Setting::Device, ckpt.path, "exported (packed) models run on the CPU in this build");
            if (t.role == Role::Embedding) embed_packed_ = std::make_shared<const io::PackedLinear>(packed->second);
            if (t.role == Role::LmHead || c.tie_word_embeddings) head_op_ = packed_product(packed->second);
            continue;
        }
        switch (t.role) {
            case Role::Embedding: embed_ = load(ckpt, t.name, t.shape, device); break;
            case Role::FinalNorm: norm_ = load(ckpt, t.name, t.shape, device); break;
            case Role::LmHead: lm_head_ = load(ckpt, t.name, t.shape, device); break;
            default: break;
        }
    }
    for (int l = 0; l < c.n_layers; ++l) layers_.push_back(load_decoder_layer(ckpt, c, l, device));
    if (c.tie_word_embeddings) lm_head_ = embed_;
}

LlamaModel::LlamaModel(const ModelConfig& config, const std::string& source, torch::Device device)
    : config_(config), device_(device) {
    config_.validate(source);
    const std::vector<double> inv = rope_inverse_frequencies(config_);
    std::vector<float> inv_f(inv.begin(), inv.end());
    inv_freq_ = torch::tensor(inv_f).to(device);
}

torch::Tensor layer_parameter(const DecoderLayer& l, const TensorSpec& t) {
    using Role = TensorSpec::Role;
    switch (t.role) {
        case Role::AttnNorm: return l.attn_norm;
        case Role::FfnNorm: return l.ffn_norm;
        case Role::QNorm: return l.q_norm;
        case Role::KNorm: return l.k_norm;
        case Role::LinearWeight: return l.linear(t.kind).weight;
        case Role::LinearBias: return l.linear(t.kind).bias;
        default: return {};
    }
}

torch::Tensor LlamaModel::parameter(const TensorSpec& t) const {
    using Role = TensorSpec::Role;
    switch (t.role) {
        case Role::Embedding: return embed_;
        case Role::FinalNorm: return norm_;
        case Role::LmHead: return lm_head_;
        default: return layer_parameter(layers_.at(static_cast<std::size_t>(t.layer)), t);
    }
}

void LlamaModel::set_linear_requires_grad(bool on) {
    for (auto& l : layers_)
        for (int k = 0; k < kLinearKinds; ++k) {
            torch::Tensor& w = l.linear(static_cast<LinearKind>(k)).weight;
            if (w.defined()) w.requires_grad_(on);
        }
}

torch::Tensor LlamaModel::apply_linear(const Linear& lin, int layer, LinearKind kind, const torch::Tensor& x) const {
    if (input_observer_) input_observer_(layer, kind, x);
    torch::Tensor y = lin(x);
    if (output_observer_) output_observer_(layer, kind, y);
    return y;
}

torch::Tensor LlamaModel::attention(const DecoderLayer& l, int index, const torch::Tensor& x, std::int64_t start,
                                    KVCache* cache) const {
    const auto& c = config_;
    const std::int64_t B = x.size(0), T = x.size(1), H = c.n_heads, KV = c.n_kv_heads, hd = c.head_dim;
    const std::int64_t rep = H / KV;
    torch::Tensor q = apply_linear(l.q, index, LinearKind::Q, x).view({B, T, H, hd});
    torch::Tensor k = apply_linear(l.k, index, LinearKind::K, x).view({B, T, KV, hd});
    torch::Tensor v = apply_linear(l.v, index, LinearKind::V, x).view({B, T, KV, hd}).transpose(1, 2);
    if (c.qk_norm) {
        // Qwen3: each head's q and k normalized over head_dim (one weight shared by all heads) before RoPE.
        q = rms_norm(q, l.q_norm, c.rms_norm_eps);
        k = rms_norm(k, l.k_norm, c.rms_norm_eps);
    }
    q = q.transpose(1, 2);
    k = k.transpose(1, 2);

    // Rotate-half RoPE at absolute positions start .. start+T-1.
    auto pos = torch::arange(start, start + T, torch::TensorOptions().dtype(torch::kFloat32).device(device_));
    auto freqs = torch::outer(pos, inv_freq_);
    auto emb = torch::cat({freqs, freqs}, -1);
    auto cos = emb.cos(), sin = emb.sin();
    q = q * cos + rotate_half(q) * sin;
    k = k * cos + rotate_half(k) * sin;

    if (cache) {
        auto& ck = cache->k[static_cast<std::size_t>(index)];
        auto& cv = cache->v[static_cast<std::size_t>(index)];
        ck = ck.defined() ? torch::cat({ck, k}, 2) : k;
        cv = cv.defined() ? torch::cat({cv, v}, 2) : v;
        k = ck;
        v = cv;
    }
    const std::int64_t Tk = k.size(2);
    // Grouped-query attention without copying K/V: the `rep` query heads that share a KV head are
    // stacked along the time axis, {B, KV, rep*T, hd} x {B, KV, hd, Tk}.
    auto qg = q.reshape({B, KV, rep * T, hd});
    auto scores = torch::matmul(qg, k.transpose(-1, -2)) * (1.0 / std::sqrt(static_cast<double>(hd)));
    // Query i (absolute start+i) sees keys 0 .. start+i; with a sliding window only the last
    // `window` of them (keys j with start+i-j < window, as transformers' sliding_window_overlay).
    // The cache keeps every key, so decoding past the window is exact, masked like a full pass.
    const std::int64_t window = c.sliding_window;
    const bool windowed = window > 0 && start + T > window;
    if (T > 1 || windowed) {
        const auto opts = torch::TensorOptions().dtype(torch::kLong).device(device_);
        const auto qpos = torch::arange(start, start + T, opts).unsqueeze(1);
        const auto kpos = torch::arange(start + T - Tk, start + T, opts);  // absolute positions of the keys
        auto mask = kpos.unsqueeze(0) > qpos;
        if (windowed) mask = mask.logical_or(qpos - kpos.unsqueeze(0) >= window);
        scores = scores.view({B, KV, rep, T, Tk}).masked_fill(mask, -std::numeric_limits<float>::infinity())
                     .view({B, KV, rep * T, Tk});
    }
    auto probs = torch::softmax(scores, -1);
    auto out = torch::matmul(probs, v).view({B, H, T, hd}).transpose(1, 2).reshape({B, T, H * hd});
    return apply_linear(l.o, index, LinearKind::O, out);
}

torch::Tensor LlamaModel::forward_layer(const DecoderLayer& l, int idx, const torch::Tensor& h, std::int64_t start,
                                        KVCache* cache) const {
    if (cache && cache->k.size() < static_cast<std::size_t>(config_.n_layers)) {
        cache->k.resize(static_cast<std::size_t>(config_.n_layers));
        cache->v.resize(static_cast<std::size_t>(config_.n_layers));
    }
    const torch::Tensor a = h + attention(l, idx, rms_norm(h, l.attn_norm, config_.rms_norm_eps), start, cache);
    const auto xn = rms_norm(a, l.ffn_norm, config_.rms_norm_eps);
    const auto g = apply_linear(l.gate, idx, LinearKind::Gate, xn);
    const auto u = apply_linear(l.up, idx, LinearKind::Up, xn);
    return a + apply_linear(l.down, idx, LinearKind::Down, torch::silu(g) * u);
}

torch::Tensor LlamaModel::forward(const torch::Tensor& tokens, KVCache* cache) const {
    TORCH_CHECK(tokens.dim() == 2, "tokens must be {B, T}");
    forward_passes_.fetch_add(1, std::memory_order_relaxed);
    const std::int64_t start = cache ? cache->length : 0;
    if (cache && cache->k.empty()) {
        cache->k.resize(static_cast<std::size_t>(config_.n_layers));
        cache->v.resize(static_cast<std::size_t>(config_.n_layers));
    }
    torch::Tensor ids = tokens.to(device_, torch::kLong);
    if (ids.numel() > 0) {
        const auto lo = ids.min().item<std::int64_t>(), hi = ids.max().item<std::int64_t>();
        if (lo < 0 || hi >= config_.vocab_size)
            throw InputError("token id " + std::to_string(lo < 0 ? lo : hi) + " is outside the vocabulary (" +
                             std::to_string(config_.vocab_size) + ")");
    }
    if (streamed_) {
        torch::Tensor h = embed_tokens(*streamed_, ids).to(device_);
        for (int i = 0; i < config_.n_layers; ++i)
            h = forward_layer(load_decoder_layer(*streamed_, config_, i, device_, /*release=*/true), i, h, start, cache);
        if (cache) cache->length += tokens.size(1);
        const StreamedHead head(*streamed_);
        torch::Tensor logits = head.logits(head.norm(h)).to(device_);
        head.release();
        return logits;
    }
    torch::Tensor h;
    if (embed_packed_) {
        // The rows of the tokens, dequantized from the packed embedding.
        const auto cpu_ids = ids.to(torch::kCPU).contiguous();
        h = torch::empty({ids.size(0), ids.size(1), config_.dim}, torch::kFloat);
        for (std::int64_t i = 0; i < cpu_ids.numel(); ++i)
            kernels::dequantize_rows(embed_packed_->view, static_cast<std::size_t>(cpu_ids.data_ptr<std::int64_t>()[i]), 1,
                                     h.data_ptr<float>() + i * config_.dim);
    } else {
        h = torch::embedding(embed_, ids);
    }
    for (std::size_t i = 0; i < layers_.size(); ++i) h = forward_layer(layers_[i], static_cast<int>(i), h, start, cache);
    if (cache) cache->length += tokens.size(1);
    h = rms_norm(h, norm_, config_.rms_norm_eps);
    return head_op_ ? head_op_(h) : torch::nn::functional::linear(h, lm_head_);
}

}  // namespace scalebits::model
