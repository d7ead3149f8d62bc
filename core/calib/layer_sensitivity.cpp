#include "core/calib/layer_sensitivity.h"

#include <torch/torch.h>

#include "core/util/error.h"

namespace scalebits::calib {

namespace {

// Observers off and the layer's weights back to not requiring grad on every exit, cancel included.
struct LayerHooksGuard {
    model::LlamaModel& shell;
    model::DecoderLayer& layer;
    ~LayerHooksGuard() {
        shell.set_input_observer(nullptr);
        shell.set_output_observer(nullptr);
        for (int k = 0; k < kLinearKinds; ++k) {
            auto& w = layer.linear(static_cast<LinearKind>(k)).weight;
            if (w.defined()) w.requires_grad_(false);
        }
    }
};

}  // namespace

LayerPass layer_sensitivity(model::LlamaModel& shell, model::DecoderLayer& layer, int index, std::int64_t n,
                            const SequenceTensor& input, const SequenceTensor& output_grad,
                            const SensitivityOptions& options, bool want_input_grads, const Progress& progress,
                            const std::string& stage) {
    const auto device = shell.device();
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device);
    LayerPass out;
    std::array<torch::Tensor, kInputSites> c_sum;
    std::vector<torch::Tensor> weights;
    for (int k = 0; k < kLinearKinds; ++k) {
        const auto kind = static_cast<LinearKind>(k);
        const auto& w = layer.linear(kind).weight;
        if (!w.defined()) throw InputError("sensitivity needs dense linear weights; this model runs packed kernels");
        auto& s = out.stats[kind];
        if (options.fisher) s.fisher = torch::zeros(w.sizes(), f32);
        if (options.factored) s.r = torch::zeros({w.size(0)}, f32);
        if (first_of_site(kind)) {
            const auto site = static_cast<std::size_t>(input_site(kind));
            c_sum[site] = torch::zeros({w.size(1)}, f32);
            if (options.hessian) out.stats.hessian[site] = torch::zeros({w.size(1), w.size(1)}, f32);
        }
    }

    LayerHooksGuard guard{shell, layer};
    c10::InferenceMode no_inference(false);
    torch::AutoGradMode grad_mode(true);
    if (options.fisher)
        for (int k = 0; k < kLinearKinds; ++k) {
            auto& w = layer.linear(static_cast<LinearKind>(k)).weight;
            w.requires_grad_(true);
            weights.push_back(w);
        }
    std::int64_t tokens = 0;
    shell.set_input_observer([&](int, LinearKind kind, const torch::Tensor& x) {
        if (!first_of_site(kind)) return;
        torch::NoGradGuard no_grad;
        const auto site = static_cast<std::size_t>(input_site(kind));
        auto flat = x.detach().reshape({-1, x.size(-1)}).to(torch::kFloat32);
        c_sum[site].add_(flat.square().sum(0));
        auto& h = out.stats.hessian[site];
        if (h.defined()) h.addmm_(flat.t(), flat);
    });
    if (options.factored)
        shell.set_output_observer([&](int, LinearKind kind, const torch::Tensor& y) {
            if (!y.requires_grad()) return;
            torch::Tensor r = out.stats[kind].r;
            y.register_hook([r](const torch::Tensor& g) {
                torch::NoGradGuard no_grad;
                r.add_(g.reshape({-1, g.size(-1)}).to(torch::kFloat32).square().sum(0));
            });
        });

    for (std::int64_t s = 0; s < n; ++s) {
        progress.checkpoint(static_cast<double>(s), static_cast<double>(n), stage);
        // The input requires grad so the backward reaches every linear output (r's hooks) even
        // when no weight gradient is asked for, and gives dL/dh_l for the layer below.
        const torch::Tensor h = input(s).detach().to(device, torch::kFloat32).requires_grad_(true);
        tokens += h.size(0) * h.size(1);
        const torch::Tensor y = shell.forward_layer(layer, index, h);
        std::vector<torch::Tensor> wrt = weights;
        wrt.push_back(h);
        const auto grads = torch::autograd::grad({y}, wrt, {output_grad(s).to(device, torch::kFloat32)});
        torch::NoGradGuard no_grad;
        if (options.fisher)
            for (int k = 0; k < kLinearKinds; ++k)
                out.stats[static_cast<LinearKind>(k)].fisher.addcmul_(grads[static_cast<std::size_t>(k)],
                                                                      grads[static_cast<std::size_t>(k)]);
        if (want_input_grads) out.input_grads.push_back(grads.back().detach());
    }
    progress.checkpoint(static_cast<double>(n), static_cast<double>(n), stage);
    for (int k = 0; k < kLinearKinds; ++k) {
        const auto kind = static_cast<LinearKind>(k);
        out.stats[kind].c = c_sum[static_cast<std::size_t>(input_site(kind))] / static_cast<double>(tokens);
    }
    return out;
}

}  // namespace scalebits::calib
