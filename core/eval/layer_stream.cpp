#include "core/eval/layer_stream.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/model/model_ends.h"
#include "core/util/error.h"

namespace scalebits::eval {

StreamedModel checkpoint_layers(const model::Checkpoint& ckpt, torch::Device device) {
    return {[&ckpt, device](int l) { return model::load_decoder_layer(ckpt, ckpt.config, l, device, /*release=*/true); }, {}};
}

std::int64_t windows_per_group(const model::ModelConfig& c, std::int64_t ctx, std::size_t models, std::uint64_t bytes) {
    const std::uint64_t per_window = 2 * static_cast<std::uint64_t>(ctx * c.dim) * 4 * std::max<std::size_t>(1, models);
    return std::max<std::int64_t>(1, static_cast<std::int64_t>(bytes / per_window));
}

void forward_layer_outer(const model::Checkpoint& ckpt, torch::Device device, const torch::Tensor& windows,
                         const std::vector<StreamedModel>& models, std::int64_t batch, std::uint64_t activation_bytes,
                         const Progress& progress, const GroupSink& sink) {
    torch::InferenceMode guard;
    const model::ModelConfig& c = ckpt.config;
    const model::LlamaModel shell(c, ckpt.path.string(), device);
    const std::int64_t n = windows.size(0), ctx = windows.size(1), L = c.n_layers;
    const std::int64_t group = std::min(n, windows_per_group(c, ctx, models.size(), activation_bytes));
    batch = std::max<std::int64_t>(1, batch);
    const double units = static_cast<double>((n + group - 1) / group * L);
    double done = 0;
    std::vector<torch::Tensor> perm(models.size()), inverse(models.size());
    for (std::size_t i = 0; i < models.size(); ++i)
        if (!models[i].hidden.empty()) {
            perm[i] = torch::tensor(models[i].hidden, torch::kLong);
            inverse[i] = torch::argsort(perm[i]);
        }
    for (std::int64_t g0 = 0; g0 < n; g0 += group) {
        const std::int64_t gn = std::min(group, n - g0);
        const torch::Tensor ids = windows.narrow(0, g0, gn);
        const torch::Tensor embedded = model::embed_tokens(ckpt, ids);
        std::vector<torch::Tensor> h;
        for (std::size_t i = 0; i < models.size(); ++i) {
            const torch::Tensor e = models[i].ends ? model::embed_tokens(*models[i].ends, ids) : embedded.clone();
            h.push_back(perm[i].defined() ? e.index_select(-1, perm[i]) : e);
        }
        for (int l = 0; l < L; ++l) {
            for (std::size_t i = 0; i < models.size(); ++i) {
                progress.checkpoint(done, units, "layer by layer");
                const model::DecoderLayer layer = models[i].layer(l);
                for (std::int64_t w = 0; w < gn; w += batch) {
                    const std::int64_t b = std::min(batch, gn - w);
                    h[i].narrow(0, w, b).copy_(shell.forward_layer(layer, l, h[i].narrow(0, w, b).to(device)));
                }
            }
            ++done;
        }
        for (std::size_t i = 0; i < models.size(); ++i)
            if (inverse[i].defined()) h[i] = h[i].index_select(-1, inverse[i]);
        sink(g0, h);
    }
    progress.checkpoint(units, units, "layer by layer");
}

}  // namespace scalebits::eval
