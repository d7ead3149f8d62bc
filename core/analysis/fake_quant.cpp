#include "core/analysis/fake_quant.h"

#include <torch/torch.h>

#include <cstring>
#include <map>

#include "core/io/safetensors.h"
#include "core/calib/sensitivity.h"
#include "core/quant/gptq.h"
#include "core/quant/rtn.h"
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

void fake_quantize(model::LlamaModel& model, const Analysis& a, const std::vector<std::uint8_t>& widths,
                   Quantizer quantizer, bool reordered, const Progress& progress) {
    if (static_cast<std::int64_t>(widths.size()) != a.total_tiles())
        throw InputError("the allocation has " + std::to_string(widths.size()) + " tile widths, the analysis " +
                         std::to_string(a.total_tiles()) + " tiles");
    if (quantizer == Quantizer::Gptq && !reordered)
        throw InputError("GPTQ needs the Hessians of the reordered layout; use it with the reordered model");
    torch::NoGradGuard no_grad;
    // r, c and the Hessians come from the analysis file: map and parse it once, not per matrix.
    std::map<std::string, const io::HostTensor*> stored;
    io::SafetensorsFile file;
    if (!a.file.empty()) {
        file = io::read_safetensors(a.file);
        for (const auto& t : file.tensors) stored[t.name] = &t;
    }
    auto find = [&](const std::string& name) -> const io::HostTensor* {
        auto it = stored.find(name);
        return it == stored.end() ? nullptr : it->second;
    };
    std::size_t offset = 0;
    double done = 0;
    const auto total = static_cast<double>(a.matrices.size());
    for (const auto& m : a.matrices) {
        progress.checkpoint(done++, total, std::string("quantizing (") + quantizer_name(quantizer) + ")");
        auto& layer = model.layers().at(static_cast<std::size_t>(m.layer));
        torch::Tensor& w = layer.linear(static_cast<model::LinearKind>(m.kind)).weight;
        const quant::TileSpec spec{m.tile_rows, m.tile_cols, m.group};
        auto grid = torch::empty({m.grid_rows, m.grid_cols}, torch::kUInt8);
        std::memcpy(grid.data_ptr<std::uint8_t>(), widths.data() + offset, static_cast<std::size_t>(m.tiles()));
        offset += static_cast<std::size_t>(m.tiles());
        // The clip search is steered by the factored Fisher of the reordered layout (the per-weight
        // F is not kept); in the original layout the same statistics are un-permuted on the fly.
        quant::ErrorWeights weights;
        const io::HostTensor* r = find("r." + m.name);
        const io::HostTensor* c = find("c." + m.name);
        if (reordered && r && c)
            weights = quant::ErrorWeights::factored(host_to_torch(*r).to(w.device()), host_to_torch(*c).to(w.device()));
        quant::QuantizedMatrix q;
        if (quantizer == Quantizer::Rtn) {
            q = quant::quantize_rtn(w, spec, grid, weights);
        } else {
            const auto site = calib::input_site(static_cast<model::LinearKind>(m.kind));
            const std::string hname = "hessian." + std::to_string(m.layer) + "." + calib::input_site_name(site);
            const io::HostTensor* stored_h = find(hname);
            if (!stored_h) throw InputError(a.file, "the analysis file has no tensor " + hname + " (needed by GPTQ)");
            torch::Tensor h = host_to_torch(*stored_h).to(w.device());
            q = quant::quantize_gptq(w, h, spec, grid, weights);
        }
        w = q.dequantize().to(w.dtype()).view_as(w);
    }
}

}  // namespace scalebits::analysis
