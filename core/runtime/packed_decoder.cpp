#include "core/runtime/packed_decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/base/tensor_names.h"
#include "core/runtime/attention.h"
#include "core/util/error.h"

namespace scalebits::runtime {

using model::LinearKind;
using model::kLinearKinds;

namespace {

// Positions processed per pass through the layers: the batched kernels' sweet spot, and what bounds
// the per-chunk buffers.
constexpr std::int64_t kChunk = 32;

void rms_norm(const float* x, const float* w, std::int64_t n, double eps, float* out) {
    float ss = 0.0f;
    for (std::int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
    const float r = 1.0f / std::sqrt(ss / static_cast<float>(n) + static_cast<float>(eps));
    for (std::int64_t i = 0; i < n; ++i) out[i] = x[i] * r * w[i];
}

std::vector<float> floats_of(const io::HostTensor& t) { return t.to_float(); }

}  // namespace

struct PackedDecoder::Layer {
    std::array<kernels::PackedMatrixView, kLinearKinds> w;
    std::array<std::vector<float>, kLinearKinds> bias;  // empty when the family has none
    std::vector<float> attn_norm, ffn_norm, q_norm, k_norm;
};

PackedDecoder::PackedDecoder(const model::Checkpoint& ckpt, std::int64_t max_context)
    : ckpt_(ckpt), config_(ckpt.config), max_context_(max_context) {
    if (ckpt.packed.empty())
        throw InputError(ckpt.path, "is not an exported (packed) model: the decode engine runs exports");
    const auto& c = config_;
    c.validate(ckpt.path.string());
    if (max_context < 1 || max_context > c.max_seq_len)
        throw InputError(ckpt.path, "a context of " + std::to_string(max_context) + " positions is outside 1 .. " +
                                        std::to_string(c.max_seq_len) + " (the model's max_position_embeddings)");
    using Role = model::TensorSpec::Role;
    layers_.resize(static_cast<std::size_t>(c.n_layers));
    for (const auto& t : model::canonical_tensors(c)) {
        Layer* l = t.layer >= 0 ? &layers_[static_cast<std::size_t>(t.layer)] : nullptr;
        const auto k = static_cast<std::size_t>(t.kind);
        switch (t.role) {
            case Role::LinearWeight: {
                const auto it = ckpt.packed.find(t.name);
                if (it == ckpt.packed.end()) throw InputError(ckpt.path, "the export has no packed matrix " + t.name);
                l->w[k] = it->second.view;
                bytes_per_token_ += it->second.view.data_bytes + kernels::kTileHeaderBytes * it->second.view.grid.tile_count();
                break;
            }
            case Role::LinearBias: l->bias[k] = floats_of(ckpt.tensor(t.name)); break;
            case Role::AttnNorm: l->attn_norm = floats_of(ckpt.tensor(t.name)); break;
            case Role::FfnNorm: l->ffn_norm = floats_of(ckpt.tensor(t.name)); break;
            case Role::QNorm: l->q_norm = floats_of(ckpt.tensor(t.name)); break;
            case Role::KNorm: l->k_norm = floats_of(ckpt.tensor(t.name)); break;
            case Role::FinalNorm: final_norm_ = floats_of(ckpt.tensor(t.name)); break;
            case Role::Embedding:
                if (const auto p = ckpt.packed.find(t.name); p != ckpt.packed.end())
                    embedding_packed_ = &p->second.view;
                else
                    embedding_ = &ckpt.tensor(t.name);
                break;
            case Role::LmHead: break;  // below, tied or not
        }
        if (t.role != Role::LinearWeight && t.role != Role::Embedding && t.role != Role::LmHead)
            bytes_per_token_ += static_cast<std::uint64_t>(ckpt.tensor(t.name).bytes.size());
    }
    // The engine runs q/k/v and gate/up as one kernel call each, which needs one tile grid across
    // (what every export of an analysis has: one tile size and group for all matrices).
    using kernels::same_columns;
    for (std::size_t li = 0; li < layers_.size(); ++li) {
        const auto& w = layers_[li].w;
        if (!same_columns(w[0].grid, w[1].grid) || !same_columns(w[0].grid, w[2].grid) || !same_columns(w[4].grid, w[5].grid))
            throw InputError(ckpt.path, "layer " + std::to_string(li) +
                                            ": the q/k/v or gate/up matrices have different tile widths or groups");
    }
    const std::string head_name = c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
    if (const auto p = ckpt.packed.find(head_name); p != ckpt.packed.end()) {
        lm_head_packed_ = &p->second.view;
        bytes_per_token_ += p->second.view.data_bytes + kernels::kTileHeaderBytes * p->second.view.grid.tile_count();
    } else if (const io::HostTensor& head = ckpt.tensor(head_name);
               head.dtype == io::DType::F16 && reinterpret_cast<std::uintptr_t>(head.bytes.data()) % 2 == 0) {
        lm_head_ = reinterpret_cast<const std::uint16_t*>(head.bytes.data());
    } else {
        const std::vector<float> f = ckpt.tensor(head_name).to_float();
        lm_head_copy_.resize(f.size());
        for (std::size_t i = 0; i < f.size(); ++i) lm_head_copy_[i] = kernels::float_to_half(f[i]);
        lm_head_ = lm_head_copy_.data();
    }
    if (!lm_head_packed_) bytes_per_token_ += static_cast<std::uint64_t>(c.vocab_size * c.dim) * 2;
    bytes_per_token_ += static_cast<std::uint64_t>(c.dim) * 2;  // one embedding row

    // RoPE angles in fp32 as the LibTorch decoder computes them (position * inverse frequency).
    const std::int64_t half = c.head_dim / 2;
    const std::vector<double> inv = model::rope_inverse_frequencies(c);
    cos_.resize(static_cast<std::size_t>(max_context * half));
    sin_.resize(cos_.size());
    for (std::int64_t p = 0; p < max_context; ++p)
        for (std::int64_t i = 0; i < half; ++i) {
            const float a = static_cast<float>(p) * static_cast<float>(inv[static_cast<std::size_t>(i)]);
            cos_[static_cast<std::size_t>(p * half + i)] = std::cos(a);
            sin_[static_cast<std::size_t>(p * half + i)] = std::sin(a);
        }
    // Keys transposed, rows padded to whole score blocks (attention.h); the padding stays 0.
    cache_stride_ = (max_context + kScoreBlock - 1) / kScoreBlock * kScoreBlock;
    k_cache_.assign(static_cast<std::size_t>(c.n_layers * c.n_kv_heads * c.head_dim * cache_stride_), 0.0f);
    v_cache_.assign(static_cast<std::size_t>(c.n_layers * c.n_kv_heads * max_context * c.head_dim), 0.0f);
    const auto C = static_cast<std::size_t>(kChunk);
    x_.resize(C * static_cast<std::size_t>(c.dim));
    xn_.resize(x_.size());
    proj_.resize(x_.size());
    q_.resize(C * static_cast<std::size_t>(c.n_heads * c.head_dim));
    att_.resize(q_.size());
    k_.resize(C * static_cast<std::size_t>(c.n_kv_heads * c.head_dim));
    v_.resize(k_.size());
    gate_.resize(C * static_cast<std::size_t>(c.hidden_dim));
    up_.resize(gate_.size());
    logits_.resize(static_cast<std::size_t>(c.vocab_size));
    scores_.resize(static_cast<std::size_t>(kernels::cpu_threads()) * static_cast<std::size_t>(cache_stride_));
}

PackedDecoder::~PackedDecoder() = default;

std::uint64_t PackedDecoder::kv_cache_bytes() const { return (k_cache_.size() + v_cache_.size()) * sizeof(float); }

const float* PackedDecoder::forward(const std::int32_t* tokens, std::int64_t n, float* all_logits) {
    if (n < 1) throw InputError("the decode engine needs at least one token");
    if (position_ + n > max_context_)
        throw InputError("the sequence reaches " + std::to_string(position_ + n) + " positions, past the decoder's " +
                         std::to_string(max_context_));
    for (std::int64_t i = 0; i < n; ++i)
        if (tokens[i] < 0 || tokens[i] >= config_.vocab_size)
            throw InputError("token id " + std::to_string(tokens[i]) + " is outside the vocabulary (" +
                             std::to_string(config_.vocab_size) + ")");
    for (std::int64_t i = 0; i < n; i += kChunk) {
        const std::int64_t m = std::min(kChunk, n - i);
        // Logits of every position of the chunk only when asked; else of its last position, and
        // only in the last chunk.
        float* out = all_logits ? all_logits + i * config_.vocab_size : (i + m == n ? logits_.data() : nullptr);
        run_chunk(tokens + i, m, out);
    }
    if (all_logits)
        std::memcpy(logits_.data(), all_logits + (n - 1) * config_.vocab_size, logits_.size() * sizeof(float));
    return logits_.data();
}

void PackedDecoder::run_chunk(const std::int32_t* tokens, std::int64_t n, float* logits) {
    const auto& c = config_;
    const std::int64_t D = c.dim, F = c.hidden_dim, H = c.n_heads, KV = c.n_kv_heads, hd = c.head_dim;
    const int batch = static_cast<int>(n);
    for (std::int64_t t = 0; t < n; ++t) {
        if (embedding_packed_)
            kernels::dequantize_rows(*embedding_packed_, static_cast<std::size_t>(tokens[t]), 1, x_.data() + t * D);
        else
            embedding_->rows_to_float(tokens[t], 1, x_.data() + t * D);
    }
    auto add_bias = [&](const std::vector<float>& b, float* y, std::int64_t rows) {
        if (b.empty()) return;
        for (std::int64_t t = 0; t < n; ++t)
            for (std::int64_t r = 0; r < rows; ++r) y[t * rows + r] += b[static_cast<std::size_t>(r)];
    };
    for (int li = 0; li < c.n_layers; ++li) {
        const Layer& l = layers_[static_cast<std::size_t>(li)];
        for (std::int64_t t = 0; t < n; ++t) rms_norm(x_.data() + t * D, l.attn_norm.data(), D, c.rms_norm_eps, xn_.data() + t * D);
        // q, k and v (then gate and up) read the same activations: one call each, one pool wake-up.
        {
            const kernels::PackedMatrixView* w[] = {&l.w[0], &l.w[1], &l.w[2]};
            float* y[] = {q_.data(), k_.data(), v_.data()};
            kernels::gemm_cpu_many(w, 3, xn_.data(), batch, y);
        }
        add_bias(l.bias[0], q_.data(), H * hd);
        add_bias(l.bias[1], k_.data(), KV * hd);
        add_bias(l.bias[2], v_.data(), KV * hd);
        attention(l, li, n);
        kernels::gemm_cpu(l.w[3], att_.data(), batch, proj_.data());
        add_bias(l.bias[3], proj_.data(), D);
        for (std::int64_t i = 0; i < n * D; ++i) x_[static_cast<std::size_t>(i)] += proj_[static_cast<std::size_t>(i)];
        for (std::int64_t t = 0; t < n; ++t) rms_norm(x_.data() + t * D, l.ffn_norm.data(), D, c.rms_norm_eps, xn_.data() + t * D);
        {
            const kernels::PackedMatrixView* w[] = {&l.w[4], &l.w[5]};
            float* y[] = {gate_.data(), up_.data()};
            kernels::gemm_cpu_many(w, 2, xn_.data(), batch, y);
        }
        add_bias(l.bias[4], gate_.data(), F);
        add_bias(l.bias[5], up_.data(), F);
        for (std::int64_t i = 0; i < n * F; ++i) {
            const float g = gate_[static_cast<std::size_t>(i)];
            gate_[static_cast<std::size_t>(i)] = g / (1.0f + std::exp(-g)) * up_[static_cast<std::size_t>(i)];
        }
        kernels::gemm_cpu(l.w[6], gate_.data(), batch, proj_.data());
        add_bias(l.bias[6], proj_.data(), D);
        for (std::int64_t i = 0; i < n * D; ++i) x_[static_cast<std::size_t>(i)] += proj_[static_cast<std::size_t>(i)];
    }
    position_ += n;
    if (!logits) return;
    // The lm_head for the positions asked: all of the chunk, or its last.
    const std::int64_t first = logits == logits_.data() ? n - 1 : 0;
    for (std::int64_t t = first; t < n; ++t) rms_norm(x_.data() + t * D, final_norm_.data(), D, c.rms_norm_eps, xn_.data() + t * D);
    if (lm_head_packed_)
        kernels::gemm_cpu(*lm_head_packed_, xn_.data() + first * D, static_cast<int>(n - first), logits);
    else
        kernels::gemm_f16_cpu(lm_head_, static_cast<std::size_t>(c.vocab_size), static_cast<std::size_t>(D),
                              xn_.data() + first * D, static_cast<int>(n - first), logits);
}

void PackedDecoder::attention(const Layer& l, int li, std::int64_t n) {
    const auto& c = config_;
    const std::int64_t H = c.n_heads, KV = c.n_kv_heads, hd = c.head_dim, half = hd / 2, rep = H / KV;
    const std::int64_t start = position_;
    // Per head: Qwen3's RMSNorm over head_dim, then rotate-half RoPE at the absolute position.
    auto rope = [&](float* v, std::int64_t pos) {
        const float* cs = cos_.data() + pos * half;
        const float* sn = sin_.data() + pos * half;
        for (std::int64_t i = 0; i < half; ++i) {
            const float a = v[i], b = v[i + half];
            v[i] = a * cs[i] - b * sn[i];
            v[i + half] = b * cs[i] + a * sn[i];
        }
    };
    for (std::int64_t t = 0; t < n; ++t) {
        for (std::int64_t h = 0; h < H; ++h) {
            float* q = q_.data() + (t * H + h) * hd;
            if (c.qk_norm) rms_norm(q, l.q_norm.data(), hd, c.rms_norm_eps, q);
            rope(q, start + t);
        }
        for (std::int64_t h = 0; h < KV; ++h) {
            float* k = k_.data() + (t * KV + h) * hd;
            if (c.qk_norm) rms_norm(k, l.k_norm.data(), hd, c.rms_norm_eps, k);
            rope(k, start + t);
            float* kt = k_cache_.data() + (li * KV + h) * hd * cache_stride_ + start + t;
            for (std::int64_t i = 0; i < hd; ++i) kt[i * cache_stride_] = k[i];
            const std::size_t at = static_cast<std::size_t>(((li * KV + h) * max_context_ + start + t) * hd);
            std::memcpy(v_cache_.data() + at, v_.data() + (t * KV + h) * hd, static_cast<std::size_t>(hd) * sizeof(float));
        }
    }
    // Query t (absolute start + t) sees keys j <= start + t, and with a window only those with
    // start + t - j < window. Work items are (position, head) pairs, a contiguous range per thread
    // (heads sharing a KV head are neighbours, so their keys stay in cache).
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    const std::int64_t items = n * H;
    const int parts = static_cast<int>(std::min<std::int64_t>(items, kernels::cpu_threads()));
    kernels::parallel_for(parts, [&](int part) {
        float* s = scores_.data() + static_cast<std::size_t>(part) * static_cast<std::size_t>(cache_stride_);
        for (std::int64_t it = items * part / parts; it < items * (part + 1) / parts; ++it) {
            const std::int64_t t = it / H, h = it % H, kvh = h / rep, pos = start + t;
            const std::int64_t lo = c.sliding_window > 0 ? std::max<std::int64_t>(0, pos - c.sliding_window + 1) : 0;
            const HeadCache cache{k_cache_.data() + (li * KV + kvh) * hd * cache_stride_,
                                  v_cache_.data() + (li * KV + kvh) * max_context_ * hd, cache_stride_, hd};
            attend(q_.data() + (t * H + h) * hd, cache, lo, pos, scale, s, att_.data() + (t * H + h) * hd);
        }
    });
}

}  // namespace scalebits::runtime
