// Quantizer::GptqSequential's pass (fake_quant.h): the analysis' calibration set goes through the
// model one decoder layer at a time. At each layer, a first forward measures the Hessians of its
// four inputs, fed by the already quantized layers below; GPTQ quantizes the layer's seven matrices
// with them; a second forward through the quantized layer gives the next layer's input. One layer
// is resident, plus the calibration set's residual stream (samples x seq_len x dim in fp32).
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <filesystem>

#include "core/analysis/fake_quant.h"
#include "core/analysis/vocab_tables.h"
#include "core/calib/calib_set.h"
#include "core/calib/sensitivity.h"
#include "core/model/model_ends.h"
#include "core/quant/gptq.h"
#include "core/reorder/reorder.h"
#include "core/util/error.h"

namespace scalebits::analysis {

namespace {

// Sequences per layer call: the layer's largest activations (its input and output, the MLP's
// three hidden_dim-wide tensors, the attention scores) within about 256 MiB.
std::int64_t sequences_per_call(const model::ModelConfig& cfg, std::int64_t seq_len, std::int64_t sequences) {
    const double per_sequence =
        4.0 * static_cast<double>(seq_len) *
        static_cast<double>(4 * cfg.dim + 3 * cfg.hidden_dim + cfg.n_heads * seq_len);
    const auto fit = static_cast<std::int64_t>(256.0 * 1024 * 1024 / std::max(per_sequence, 1.0));
    return std::clamp<std::int64_t>(fit, 1, std::max<std::int64_t>(sequences, 1));
}

}  // namespace

void check_sequential_inputs(const Analysis& a, const model::Checkpoint& ckpt) {
    if (ckpt.config.n_layers != a.config.n_layers || ckpt.config.dim != a.config.dim)
        throw InputError(ckpt.path, "is not the model the analysis was made from");
    if (!ckpt.tokenizer) throw InputError(ckpt.path, "has no tokenizer: sequential GPTQ cannot tokenize the calibration text");
    const std::filesystem::path& text = a.options.calib_text;
    if (text.empty() || !std::filesystem::is_regular_file(text))
        throw InputError(a.file, "sequential GPTQ re-reads the analysis' calibration text '" + text.string() +
                                     "', which is not there");
}

void MatrixQuantizer::run_sequential(const model::Checkpoint& ckpt, torch::Device device, const Progress& progress) {
    torch::NoGradGuard no_grad;
    const model::ModelConfig& cfg = ckpt.config;
    check_sequential_inputs(a_, ckpt);
    const std::filesystem::path& text = a_.options.calib_text;
    const calib::CalibrationSet set = calib::load_calibration_set(*ckpt.tokenizer, text, a_.options.samples,
                                                                  a_.options.seq_len, a_.options.seed);

    // The residual stream enters as the embedding rows of the calibration tokens, quantized when the
    // allocation covers the embedding, in the widths' hidden order.
    const torch::Tensor hidden = reordered_ && !a_.permutations.hidden.empty()
                                     ? torch::tensor(a_.permutations.hidden, torch::kLong)
                                     : torch::Tensor();
    torch::Tensor h;
    const std::ptrdiff_t embedding = vocab_matrix(kEmbeddingKind);
    if (embedding < 0) {
        h = model::embed_tokens(ckpt, set.tokens);
        if (hidden.defined()) h = h.index_select(2, hidden);
    } else {
        // Only the chunks of tile rows that hold a calibration token are read and quantized (RTN is
        // row-wise, so whole tile rows quantize as in the whole matrix). Per-group widths are
        // quantized whole, as fake_quantize does.
        const MatrixAnalysis& m = a_.matrices[static_cast<std::size_t>(embedding)];
        const std::int64_t span = granularity_ == WidthGranularity::Tile ? vocab_chunk_rows(m.cols(), m.tile_rows()) : m.rows();
        const io::HostTensor& src = ckpt.tensor(m.name);
        const torch::Tensor flat = set.tokens.reshape({-1}).contiguous();
        const auto* token = flat.data_ptr<std::int64_t>();
        std::vector<std::int64_t> ids(token, token + flat.numel());
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        if (!ids.empty() && (ids.front() < 0 || ids.back() >= m.rows()))
            throw InputError(ckpt.path, "the calibration text has a token outside the embedding's rows");
        torch::Tensor rows = torch::empty({static_cast<std::int64_t>(ids.size()), m.cols()}, torch::kFloat);
        for (std::size_t i = 0; i < ids.size();) {
            progress.check();
            const std::int64_t first = ids[i] / span * span;
            const std::int64_t count = std::min(span, m.rows() - first);
            const torch::Tensor q = quantize_vocab_rows(static_cast<std::size_t>(embedding), src, first, count).dequantize();
            for (; i < ids.size() && ids[i] < first + count; ++i) rows[static_cast<std::int64_t>(i)].copy_(q[ids[i] - first]);
        }
        src.release_pages();
        // Each token's row in `rows`: its rank among the distinct ids.
        torch::Tensor where = torch::empty_like(flat);
        auto* w = where.data_ptr<std::int64_t>();
        for (std::int64_t t = 0; t < flat.numel(); ++t)
            w[t] = std::lower_bound(ids.begin(), ids.end(), token[t]) - ids.begin();
        h = rows.index_select(0, where).view({set.sequences(), set.seq_len(), m.cols()});
    }

    model::LlamaModel shell(cfg, ckpt.path.string(), device);
    const std::int64_t n = set.sequences();
    const std::int64_t batch = sequences_per_call(cfg, set.seq_len(), n);
    std::array<torch::Tensor, calib::kInputSites> hessian;
    bool measuring = false;  // the first forward of each layer, not the one that advances the stream
    shell.set_input_observer([&](int, model::LinearKind kind, const torch::Tensor& x) {
        if (!measuring || !calib::first_of_site(kind)) return;
        const torch::Tensor rows = x.reshape({-1, x.size(-1)}).to(torch::kFloat32);
        hessian[static_cast<std::size_t>(calib::input_site(kind))].addmm_(rows.t(), rows);
    });
    sequential_.assign(a_.matrices.size(), {});
    const int layers = static_cast<int>(cfg.n_layers);
    for (int l = 0; l < layers; ++l) {
        progress.checkpoint(l, layers, "sequential GPTQ");
        model::DecoderLayer layer = model::load_decoder_layer(ckpt, cfg, l, device, /*release=*/true);
        if (reordered_) reorder::apply_to_layer(layer, a_.permutations, cfg, l);
        for (auto& site : hessian) site.reset();  // the last layer's, freed before the new ones exist
        for (int k = 0; k < model::kLinearKinds; ++k) {
            const auto kind = static_cast<model::LinearKind>(k);
            if (!calib::first_of_site(kind)) continue;
            const std::int64_t K = layer.linear(kind).weight.size(1);
            hessian[static_cast<std::size_t>(calib::input_site(kind))] =
                torch::zeros({K, K}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
        }
        measuring = true;
        for (std::int64_t s = 0; s < n; s += batch) {
            progress.check();
            shell.forward_layer(layer, l, h.narrow(0, s, std::min(batch, n - s)).to(device));
        }
        measuring = false;
        for (int k = 0; k < model::kLinearKinds; ++k) {
            progress.check();
            const auto kind = static_cast<model::LinearKind>(k);
            const std::size_t index = by_layer_[static_cast<std::size_t>(l)][static_cast<std::size_t>(k)];
            torch::Tensor& w = layer.linear(kind).weight;
            const Target t = target(index, 0, w.size(0), device);
            const quant::QuantizedMatrix q =
                quant::quantize_gptq(w, hessian[static_cast<std::size_t>(calib::input_site(kind))], t.spec, t.grid, t.weights);
            w = q.dequantize().to(w.dtype()).view_as(w);
            sequential_[index] = q.to(torch::kCPU);
        }
        // The next layer's input comes out of this one, quantized.
        for (std::int64_t s = 0; s < n; s += batch) {
            progress.check();
            const std::int64_t count = std::min(batch, n - s);
            h.narrow(0, s, count).copy_(shell.forward_layer(layer, l, h.narrow(0, s, count).to(device)).cpu());
        }
    }
    progress.checkpoint(layers, layers, "sequential GPTQ");
}

}  // namespace scalebits::analysis
