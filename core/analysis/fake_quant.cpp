#include "core/analysis/fake_quant.h"

#include <torch/torch.h>

#include <cstring>

#include "core/io/safetensors.h"
#include "core/calib/sensitivity.h"
#include "core/quant/gptq.h"
#include "core/quant/rtn.h"
#include "core/reorder/matrix_index.h"
#include "core/reorder/reorder.h"
#include "core/util/error.h"

namespace scalebits::analysis {

namespace {
torch::Tensor host_to_torch(const io::HostTensor& t) {
    std::vector<float> v = t.to_float();
    std::vector<std::int64_t> shape(t.shape.begin(), t.shape.end());
    return torch::from_blob(v.data(), shape, torch::kFloat32).clone();
}
}  // namespace

Quantizer parse_quantizer(const std::string& name) {
    if (name == "rtn") return Quantizer::Rtn;
    if (name == "gptq") return Quantizer::Gptq;
    throw InputError("--quantizer must be rtn or gptq, got '" + name + "'");
}

const char* quantizer_name(Quantizer q) { return q == Quantizer::Rtn ? "rtn" : "gptq"; }

void apply_layout(model::LlamaModel& model, const Analysis& analysis, bool reordered) {
    if (reordered) reorder::apply_to_model(model, analysis.permutations);
}

std::vector<std::uint8_t> uniform_tile_widths(const Analysis& a, int bits) {
    if (bits < 2 || bits > 8) throw InputError("width " + std::to_string(bits) + " is outside 2..8");
    return std::vector<std::uint8_t>(static_cast<std::size_t>(a.total_tiles()), static_cast<std::uint8_t>(bits));
}

MatrixQuantizer::MatrixQuantizer(const Analysis& a, const std::vector<std::uint8_t>& widths, Quantizer quantizer,
                                 bool reordered, WidthGranularity granularity)
    : a_(a), widths_(widths), quantizer_(quantizer), reordered_(reordered), granularity_(granularity) {
    const bool per_group = granularity == WidthGranularity::Group;
    if (per_group && !reordered) throw InputError("per-group widths are solved for the reordered layout");
    std::int64_t expected = 0;
    by_layer_.assign(static_cast<std::size_t>(a.config.n_layers), {});
    std::vector<std::array<bool, model::kLinearKinds>> seen(by_layer_.size(), std::array<bool, model::kLinearKinds>{});
    for (std::size_t i = 0; i < a.matrices.size(); ++i) {
        const auto& m = a.matrices[i];
        offsets_.push_back(static_cast<std::size_t>(expected));
        const quant::TileSpec spec = per_group ? quant::TileSpec{1, m.group, m.group} : quant::TileSpec{m.tile_rows, m.tile_cols, m.group};
        expected += spec.num_tiles(m.rows, m.cols);
        if (m.layer < 0 || m.layer >= a.config.n_layers || m.kind < 0 || m.kind >= model::kLinearKinds)
            throw InputError(m.name + ": layer or kind outside the model");
        by_layer_[static_cast<std::size_t>(m.layer)][static_cast<std::size_t>(m.kind)] = i;
        seen[static_cast<std::size_t>(m.layer)][static_cast<std::size_t>(m.kind)] = true;
    }
    for (const auto& s : seen)
        for (bool b : s)
            if (!b) throw InputError("the analysis does not cover every matrix of the model");
    if (static_cast<std::int64_t>(widths.size()) != expected)
        throw InputError("the allocation has " + std::to_string(widths.size()) + " widths, the analysis " +
                         std::to_string(expected) + (per_group ? " row-groups" : " tiles"));
    // r, c and the Hessians come from the analysis file: mapped and parsed once, not per matrix.
    if (!a.file.empty()) file_ = io::read_safetensors(a.file);
}

const std::array<std::size_t, model::kLinearKinds>& MatrixQuantizer::layer_matrices(int layer) const {
    return by_layer_.at(static_cast<std::size_t>(layer));
}

quant::QuantizedMatrix MatrixQuantizer::quantize(std::size_t index, const torch::Tensor& w) const {
    torch::NoGradGuard no_grad;
    const MatrixAnalysis& m = a_.matrices.at(index);
    const auto kind = static_cast<model::LinearKind>(m.kind);
    const quant::TileSpec spec = granularity_ == WidthGranularity::Group ? quant::TileSpec{1, m.group, m.group}
                                                                        : quant::TileSpec{m.tile_rows, m.tile_cols, m.group};
    auto grid = torch::empty({spec.grid_rows(m.rows), spec.grid_cols(m.cols)}, torch::kUInt8);
    std::memcpy(grid.data_ptr<std::uint8_t>(), widths_.data() + offsets_[index], static_cast<std::size_t>(grid.numel()));
    // The clip search is steered by the factored Fisher (r, c) of the reordered layout (the
    // per-weight F is not kept); for the original layout it is scattered back through the
    // permutations. Hessians: H_orig[perm[i], perm[j]] = H_reordered[i, j].
    quant::ErrorWeights weights;
    const auto idx = reordered_ ? reorder::MatrixIndex{} : reorder::matrix_index(a_.permutations, a_.config, m.layer, kind);
    const io::HostTensor* r = file_.find("r." + m.name);
    const io::HostTensor* c = file_.find("c." + m.name);
    if (r && c) {
        torch::Tensor rt = host_to_torch(*r), ct = host_to_torch(*c);
        r->release_pages();
        c->release_pages();
        if (idx.rows.defined()) rt = torch::zeros_like(rt).index_copy_(0, idx.rows, rt);
        if (idx.cols.defined()) ct = torch::zeros_like(ct).index_copy_(0, idx.cols, ct);
        weights = quant::ErrorWeights::factored(rt.to(w.device()), ct.to(w.device()));
    }
    if (quantizer_ == Quantizer::Rtn) return quant::quantize_rtn(w, spec, grid, weights);
    const auto site = calib::input_site(kind);
    const std::string hname = "hessian." + std::to_string(m.layer) + "." + calib::input_site_name(site);
    const io::HostTensor* stored_h = file_.find(hname);
    if (!stored_h) throw InputError(a_.file, "the analysis file has no tensor " + hname + " (needed by GPTQ)");
    torch::Tensor h = host_to_torch(*stored_h);
    stored_h->release_pages();
    // Format 3 stores the upper triangle (calib::pack_upper_triangle), earlier ones the full matrix.
    if (h.dim() == 1) h = calib::unpack_upper_triangle(h.data_ptr<float>(), h.size(0), a_.file.string() + ": " + hname);
    if (idx.cols.defined()) {
        const torch::Tensor inv = torch::argsort(idx.cols);
        h = h.index_select(0, inv).index_select(1, inv);
    }
    return quant::quantize_gptq(w, h.to(w.device()), spec, grid, weights);
}

void MatrixQuantizer::fake_quantize_layer(model::DecoderLayer& layer, int index, const Progress& progress) const {
    torch::NoGradGuard no_grad;
    for (int k = 0; k < model::kLinearKinds; ++k) {
        progress.check();
        auto& lin = layer.linear(static_cast<model::LinearKind>(k));
        if (lin.override_op || !lin.weight.defined())
            throw InputError(a_.matrices[layer_matrices(index)[static_cast<std::size_t>(k)]].name +
                             " is a packed (exported) matrix; fake quantization needs the full-precision model");
        const quant::QuantizedMatrix q = quantize(layer_matrices(index)[static_cast<std::size_t>(k)], lin.weight);
        lin.weight = q.dequantize().to(lin.weight.dtype()).view_as(lin.weight);
    }
}

void quantize_matrices(const model::LlamaModel& model, const Analysis& a, const std::vector<std::uint8_t>& widths,
                       Quantizer quantizer, bool reordered, WidthGranularity granularity, const QuantizedMatrixSink& sink,
                       const Progress& progress) {
    const MatrixQuantizer mq(a, widths, quantizer, reordered, granularity);
    double done = 0;
    const auto total = static_cast<double>(a.matrices.size());
    for (std::size_t i = 0; i < a.matrices.size(); ++i) {
        const auto& m = a.matrices[i];
        progress.checkpoint(done++, total, std::string("quantizing (") + quantizer_name(quantizer) + ")");
        const auto& lin = model.layers().at(static_cast<std::size_t>(m.layer)).linear(static_cast<model::LinearKind>(m.kind));
        if (lin.override_op)
            throw InputError(m.name + " is a packed (exported) matrix; fake quantization needs the full-precision model");
        sink(m, mq.quantize(i, lin.weight));
    }
}

void fake_quantize(model::LlamaModel& model, const Analysis& a, const std::vector<std::uint8_t>& widths,
                   Quantizer quantizer, bool reordered, const Progress& progress, WidthGranularity granularity) {
    quantize_matrices(
        model, a, widths, quantizer, reordered, granularity,
        [&](const MatrixAnalysis& m, quant::QuantizedMatrix&& q) {
            torch::NoGradGuard no_grad;
            auto& w = model.layers().at(static_cast<std::size_t>(m.layer)).linear(static_cast<model::LinearKind>(m.kind)).weight;
            w = q.dequantize().to(w.dtype()).view_as(w);
        },
        progress);
}

}  // namespace scalebits::analysis
