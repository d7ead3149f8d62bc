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

void quantize_matrices(const model::LlamaModel& model, const Analysis& a, const std::vector<std::uint8_t>& widths,
                       Quantizer quantizer, bool reordered, WidthGranularity granularity, const QuantizedMatrixSink& sink,
                       const Progress& progress) {
    const bool per_group = granularity == WidthGranularity::Group;
    auto spec_of = [&](const MatrixAnalysis& m) {
        return per_group ? quant::TileSpec{1, m.group, m.group} : quant::TileSpec{m.tile_rows, m.tile_cols, m.group};
    };
    std::int64_t expected = 0;
    for (const auto& m : a.matrices) expected += spec_of(m).num_tiles(m.rows, m.cols);
    if (static_cast<std::int64_t>(widths.size()) != expected)
        throw InputError("the allocation has " + std::to_string(widths.size()) + " widths, the analysis " +
                         std::to_string(expected) + (per_group ? " row-groups" : " tiles"));
    if (per_group && !reordered) throw InputError("per-group widths are solved for the reordered layout");
    torch::NoGradGuard no_grad;
    // r, c and the Hessians come from the analysis file: map and parse it once, not per matrix.
    io::SafetensorsFile file;
    if (!a.file.empty()) file = io::read_safetensors(a.file);
    std::size_t offset = 0;
    double done = 0;
    const auto total = static_cast<double>(a.matrices.size());
    for (const auto& m : a.matrices) {
        progress.checkpoint(done++, total, std::string("quantizing (") + quantizer_name(quantizer) + ")");
        const auto kind = static_cast<model::LinearKind>(m.kind);
        const auto& layer = model.layers().at(static_cast<std::size_t>(m.layer));
        if (layer.linear(kind).override_op)
            throw InputError(m.name + " is a packed (exported) matrix; fake quantization needs the full-precision model");
        const torch::Tensor& w = layer.linear(kind).weight;
        const quant::TileSpec spec = spec_of(m);
        const std::int64_t count = spec.num_tiles(m.rows, m.cols);
        auto grid = torch::empty({spec.grid_rows(m.rows), spec.grid_cols(m.cols)}, torch::kUInt8);
        std::memcpy(grid.data_ptr<std::uint8_t>(), widths.data() + offset, static_cast<std::size_t>(count));
        offset += static_cast<std::size_t>(count);
        // The clip search is steered by the factored Fisher (r, c) of the reordered layout (the
        // per-weight F is not kept); for the original layout it is scattered back through the
        // permutations.
        // Hessians: H_orig[perm[i], perm[j]] = H_reordered[i, j].
        quant::ErrorWeights weights;
        const auto idx = reordered ? reorder::MatrixIndex{} : reorder::matrix_index(a.permutations, a.config, m.layer, kind);
        const io::HostTensor* r = file.find("r." + m.name);
        const io::HostTensor* c = file.find("c." + m.name);
        if (r && c) {
            torch::Tensor rt = host_to_torch(*r), ct = host_to_torch(*c);
            if (idx.rows.defined()) rt = torch::zeros_like(rt).index_copy_(0, idx.rows, rt);
            if (idx.cols.defined()) ct = torch::zeros_like(ct).index_copy_(0, idx.cols, ct);
            weights = quant::ErrorWeights::factored(rt.to(w.device()), ct.to(w.device()));
        }
        quant::QuantizedMatrix q;
        if (quantizer == Quantizer::Rtn) {
            q = quant::quantize_rtn(w, spec, grid, weights);
        } else {
            const auto site = calib::input_site(kind);
            const std::string hname = "hessian." + std::to_string(m.layer) + "." + calib::input_site_name(site);
            const io::HostTensor* stored_h = file.find(hname);
            if (!stored_h) throw InputError(a.file, "the analysis file has no tensor " + hname + " (needed by GPTQ)");
            torch::Tensor h = host_to_torch(*stored_h);
            if (idx.cols.defined()) {
                const torch::Tensor inv = torch::argsort(idx.cols);
                h = h.index_select(0, inv).index_select(1, inv);
            }
            h = h.to(w.device());
            q = quant::quantize_gptq(w, h, spec, grid, weights);
        }
        sink(m, std::move(q));
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
