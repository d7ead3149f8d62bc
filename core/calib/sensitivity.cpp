#include "core/calib/sensitivity.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "core/util/error.h"

namespace scalebits::calib {

InputSite input_site(LinearKind kind) {
    switch (kind) {
        case LinearKind::Q:
        case LinearKind::K:
        case LinearKind::V: return InputSite::AttnIn;
        case LinearKind::O: return InputSite::OIn;
        case LinearKind::Gate:
        case LinearKind::Up: return InputSite::MlpIn;
        case LinearKind::Down: return InputSite::DownIn;
    }
    return InputSite::AttnIn;
}

const char* input_site_name(InputSite site) {
    switch (site) {
        case InputSite::AttnIn: return "attn_in";
        case InputSite::OIn: return "o_in";
        case InputSite::MlpIn: return "mlp_in";
        case InputSite::DownIn: return "down_in";
    }
    return "?";
}

bool first_of_site(LinearKind kind) {
    return kind == LinearKind::Q || kind == LinearKind::O || kind == LinearKind::Gate || kind == LinearKind::Down;
}

namespace {

// Puts the model back as it was (observers off, weights not requiring grad) on every exit path,
// cancellation included.
struct ModelHooksGuard {
    model::LlamaModel& model;
    ~ModelHooksGuard() {
        model.set_input_observer(nullptr);
        model.set_output_observer(nullptr);
        model.set_linear_requires_grad(false);
        model.embedding().requires_grad_(false);
        model.lm_head().requires_grad_(false);
    }
};

void check_tokens(const model::LlamaModel& model, const torch::Tensor& tokens) {
    if (!tokens.defined() || tokens.dim() != 2)
        throw InputError("calibration tokens must be a {sequences, length} tensor");
    if (tokens.size(0) < 1 || tokens.size(1) < 2)
        throw InputError("calibration needs at least one sequence of at least 2 tokens (got " +
                         std::to_string(tokens.size(0)) + " x " + std::to_string(tokens.size(1)) + ")");
    if (tokens.is_floating_point() || tokens.is_complex())
        throw InputError("calibration tokens must be integer ids");
    for (const auto& l : model.layers())
        for (int k = 0; k < kLinearKinds; ++k)
            if (l.linear(static_cast<LinearKind>(k)).override_op)
                throw InputError("sensitivity needs dense linear weights; this model runs packed kernels");
}

}  // namespace

Sensitivity compute_sensitivity(model::LlamaModel& model, const torch::Tensor& tokens,
                                const SensitivityOptions& options, const Progress& progress) {
    check_tokens(model, tokens);
    const auto t0 = std::chrono::steady_clock::now();
    const auto device = model.device();
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device);
    const auto n_layers = model.layers().size();
    const std::int64_t n = tokens.size(0), L = tokens.size(1);

    Sensitivity out;
    out.sequences = n;
    out.seq_len = L;
    out.tokens = n * L;
    out.layers.resize(n_layers);

    // Accumulators: per linear F and r, per input site c (as a sum) and H.
    std::vector<std::array<torch::Tensor, kInputSites>> c_sum(n_layers);
    for (std::size_t i = 0; i < n_layers; ++i) {
        auto& layer = model.layers()[i];
        for (int k = 0; k < kLinearKinds; ++k) {
            const auto kind = static_cast<LinearKind>(k);
            const auto& w = layer.linear(kind).weight;
            auto& s = out.layers[i][kind];
            if (options.fisher) s.fisher = torch::zeros(w.sizes(), f32);
            if (options.factored) s.r = torch::zeros({w.size(0)}, f32);
            if (first_of_site(kind)) {
                const auto site = static_cast<std::size_t>(input_site(kind));
                c_sum[i][site] = torch::zeros({w.size(1)}, f32);
                if (options.hessian) out.layers[i].hessian[site] = torch::zeros({w.size(1), w.size(1)}, f32);
            }
        }
    }

    const bool backward = options.fisher || options.factored;
    ModelHooksGuard guard{model};
    // Calibration must build a graph even when the caller runs under inference mode or no_grad.
    c10::InferenceMode no_inference(false);
    torch::AutoGradMode grad_mode(backward);
    model.set_linear_requires_grad(backward);
    std::vector<torch::Tensor> weights;  // autograd::grad inputs, layer-major, LinearKind order
    if (backward)
        for (auto& l : model.layers())
            for (int k = 0; k < kLinearKinds; ++k) weights.push_back(l.linear(static_cast<LinearKind>(k)).weight);
    // The vocabulary matrices after them: the embedding (also the lm_head when tied), an untied lm_head.
    const bool vocab = options.vocab && options.fisher;
    const std::size_t n_linear = weights.size();
    if (vocab) {
        model.embedding().requires_grad_(true);
        weights.push_back(model.embedding());
        out.embedding_fisher = torch::zeros(model.embedding().sizes(), f32);
        if (!model.tied()) {
            model.lm_head().requires_grad_(true);
            weights.push_back(model.lm_head());
            out.lm_head_fisher = torch::zeros(model.lm_head().sizes(), f32);
        }
    }

    model.set_input_observer([&](int layer, LinearKind kind, const torch::Tensor& x) {
        if (!first_of_site(kind)) return;
        torch::NoGradGuard no_grad;
        const auto site = static_cast<std::size_t>(input_site(kind));
        auto flat = x.detach().reshape({-1, x.size(-1)}).to(torch::kFloat32);
        c_sum[static_cast<std::size_t>(layer)][site].add_(flat.square().sum(0));
        auto& h = out.layers[static_cast<std::size_t>(layer)].hessian[site];
        if (h.defined()) h.addmm_(flat.t(), flat);
    });
    if (options.factored)
        model.set_output_observer([&](int layer, LinearKind kind, const torch::Tensor& y) {
            if (!y.requires_grad()) return;
            torch::Tensor r = out.layers[static_cast<std::size_t>(layer)][kind].r;
            y.register_hook([r](const torch::Tensor& g) {
                torch::NoGradGuard no_grad;
                r.add_(g.reshape({-1, g.size(-1)}).to(torch::kFloat32).square().sum(0));
            });
        });

    double loss_sum = 0.0;
    for (std::int64_t s = 0; s < n; ++s) {
        progress.checkpoint(static_cast<double>(s), static_cast<double>(n), "sensitivity");
        const torch::Tensor ids = tokens.narrow(0, s, 1).to(device, torch::kLong);
        const torch::Tensor logits = model.forward(ids);  // {1, L, vocab}
        // L_s: mean cross-entropy of the L-1 next-token predictions of the sequence.
        const torch::Tensor loss = torch::nn::functional::cross_entropy(
            logits.select(0, 0).narrow(0, 0, L - 1), ids.select(0, 0).narrow(0, 1, L - 1));
        loss_sum += loss.item<double>();
        if (!backward) continue;
        const auto grads = torch::autograd::grad({loss}, weights);
        if (options.fisher) {
            torch::NoGradGuard no_grad;
            std::size_t idx = 0;
            for (std::size_t i = 0; i < n_layers; ++i)
                for (int k = 0; k < kLinearKinds; ++k, ++idx)
                    out.layers[i][static_cast<LinearKind>(k)].fisher.addcmul_(grads[idx], grads[idx]);
            if (vocab) {
                out.embedding_fisher.addcmul_(grads[n_linear], grads[n_linear]);
                if (out.lm_head_fisher.defined()) out.lm_head_fisher.addcmul_(grads[n_linear + 1], grads[n_linear + 1]);
            }
        }
    }
    progress.checkpoint(static_cast<double>(n), static_cast<double>(n), "sensitivity");

    // c as a mean over tokens, copied to every consumer of the site.
    for (std::size_t i = 0; i < n_layers; ++i) {
        for (int k = 0; k < kLinearKinds; ++k) {
            const auto kind = static_cast<LinearKind>(k);
            out.layers[i][kind].c = c_sum[i][static_cast<std::size_t>(input_site(kind))] / static_cast<double>(out.tokens);
        }
    }
    out.mean_loss = loss_sum / static_cast<double>(n);
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
}

torch::Tensor pack_upper_triangle(const torch::Tensor& h) {
    const auto m = h.detach().to(torch::kCPU, torch::kFloat).contiguous();
    const std::int64_t k = m.size(0);
    torch::Tensor out = torch::empty({k * (k + 1) / 2}, torch::kFloat);
    const float* src = m.data_ptr<float>();
    float* dst = out.data_ptr<float>();
    for (std::int64_t i = 0; i < k; ++i) {
        std::copy(src + i * k + i, src + (i + 1) * k, dst);
        dst += k - i;
    }
    return out;
}

torch::Tensor unpack_upper_triangle(const float* packed, std::int64_t count, const std::string& what) {
    // K from K(K+1)/2 = count, checked exactly (no float rounding is trusted).
    auto k = static_cast<std::int64_t>((std::sqrt(8.0 * static_cast<double>(count) + 1.0) - 1.0) / 2.0);
    while (k > 0 && k * (k + 1) / 2 > count) --k;
    while ((k + 1) * (k + 2) / 2 <= count) ++k;
    if (count <= 0 || k * (k + 1) / 2 != count)
        throw InputError(what + " holds " + std::to_string(count) + " values, not the upper triangle of a square matrix");
    torch::Tensor h = torch::empty({k, k}, torch::kFloat);
    float* dst = h.data_ptr<float>();
    for (std::int64_t i = 0; i < k; ++i) {
        for (std::int64_t j = i; j < k; ++j) dst[i * k + j] = dst[j * k + i] = packed[j - i];
        packed += k - i;
    }
    return h;
}

namespace {

// Pearson correlation of (a, b) over pairs handed out block by block, in two passes (means, then
// centred sums), so a matrix's correlation never needs a second copy of the whole matrix in doubles.
class BlockPearson {
public:
    void add_means(const torch::Tensor& a, const torch::Tensor& b) {
        n_ += a.numel();
        sa_ += a.sum().item<double>();
        sb_ += b.sum().item<double>();
    }
    void add_centred(const torch::Tensor& a, const torch::Tensor& b) {
        if (n_ == 0) return;
        const auto da = a - sa_ / static_cast<double>(n_), db = b - sb_ / static_cast<double>(n_);
        saa_ += da.square().sum().item<double>();
        sbb_ += db.square().sum().item<double>();
        sab_ += (da * db).sum().item<double>();
    }
    double value() const {
        if (n_ < 2) return std::numeric_limits<double>::quiet_NaN();
        const double den = std::sqrt(saa_ * sbb_);
        return den > 0 ? sab_ / den : std::numeric_limits<double>::quiet_NaN();
    }

private:
    std::int64_t n_ = 0;
    double sa_ = 0, sb_ = 0, saa_ = 0, sbb_ = 0, sab_ = 0;
};

}  // namespace

FactoredCorrelation factored_correlation(const torch::Tensor& fisher, const torch::Tensor& r, const torch::Tensor& c) {
    if (!fisher.defined() || !r.defined() || !c.defined() || fisher.dim() != 2 || r.dim() != 1 || c.dim() != 1 ||
        fisher.size(0) != r.size(0) || fisher.size(1) != c.size(0))
        throw InputError("factored_correlation: F must be N x K with r of N and c of K values");
    torch::NoGradGuard no_grad;
    const auto rd = r.detach().to(fisher.device(), torch::kDouble), cd = c.detach().to(fisher.device(), torch::kDouble);
    // Blocks of rows of about a million values: the temporaries stay a few MiB at any matrix size.
    const std::int64_t rows = fisher.size(0), block = std::max<std::int64_t>(1, (std::int64_t(1) << 20) / std::max<std::int64_t>(1, fisher.size(1)));
    BlockPearson values, logs;
    auto each_block = [&](auto&& fn) {
        for (std::int64_t r0 = 0; r0 < rows; r0 += block) {
            const std::int64_t nr = std::min(block, rows - r0);
            const auto f = fisher.detach().narrow(0, r0, nr).to(torch::kDouble).flatten();
            const auto p = torch::outer(rd.narrow(0, r0, nr), cd).flatten();
            const auto pos = (f > 0).logical_and(p > 0);
            fn(f, p, f.masked_select(pos).log(), p.masked_select(pos).log());
        }
    };
    each_block([&](const auto& f, const auto& p, const auto& lf, const auto& lp) {
        values.add_means(f, p);
        logs.add_means(lf, lp);
    });
    each_block([&](const auto& f, const auto& p, const auto& lf, const auto& lp) {
        values.add_centred(f, p);
        logs.add_centred(lf, lp);
    });
    return {values.value(), logs.value()};
}

}  // namespace scalebits::calib
