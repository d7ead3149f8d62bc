#include "core/analysis/fake_quant.h"

#include <torch/torch.h>

#include <cstring>

#include "core/analysis/analysis_file.h"
#include "core/analysis/vocab_tables.h"
#include "core/io/safetensors.h"
#include "core/calib/sensitivity.h"
#include "core/quant/gptq.h"
#include "core/quant/rtn.h"
#include "core/reorder/matrix_index.h"
#include "core/reorder/reorder.h"
#include "core/util/error.h"
#include "core/util/option_error.h"

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
    if (name == "gptq-seq") return Quantizer::GptqSequential;
    throw OptionError(Setting::Quantizer, "unknown quantizer '" + name + "' (expected rtn, gptq or gptq-seq)");
}

const char* quantizer_name(Quantizer q) {
    switch (q) {
        case Quantizer::Rtn: return "rtn";
        case Quantizer::Gptq: return "gptq";
        case Quantizer::GptqSequential: return "gptq-seq";
    }
    return "?";
}

void apply_layout(model::LlamaModel& model, const Analysis& analysis, bool reordered) {
    if (reordered) reorder::apply_to_model(model, analysis.permutations);
}

std::vector<std::uint8_t> uniform_tile_widths(const Analysis& a, int bits) {
    if (bits < 2 || bits > 8) throw InputError("width " + std::to_string(bits) + " is outside 2..8");
    return std::vector<std::uint8_t>(static_cast<std::size_t>(a.total_tiles()), static_cast<std::uint8_t>(bits));
}

MatrixQuantizer::MatrixQuantizer(const Analysis& a, const std::vector<std::uint8_t>& widths, Quantizer quantizer,
                                 bool reordered, WidthGranularity granularity, const model::Checkpoint* checkpoint,
                                 torch::Device device, const Progress& progress)
    : a_(a), widths_(widths), quantizer_(quantizer), reordered_(reordered), granularity_(granularity) {
    const bool per_group = granularity == WidthGranularity::Group;
    if (per_group && !reordered) throw InputError("per-group widths are solved for the reordered layout");
    std::int64_t linear_tiles = 0, all_tiles = 0;
    by_layer_.assign(static_cast<std::size_t>(a.config.n_layers), {});
    std::vector<std::array<bool, model::kLinearKinds>> seen(by_layer_.size(), std::array<bool, model::kLinearKinds>{});
    for (std::size_t i = 0; i < a.matrices.size(); ++i) {
        const auto& m = a.matrices[i];
        offsets_.push_back(static_cast<std::size_t>(all_tiles));
        const quant::TileSpec spec = per_group ? quant::TileSpec{1, m.group(), m.group()} : quant::TileSpec{m.tile_rows(), m.tile_cols(), m.group()};
        all_tiles += spec.num_tiles(m.rows(), m.cols());
        if (is_vocab_kind(m.kind)) continue;
        linear_tiles = all_tiles;
        if (m.layer < 0 || m.layer >= a.config.n_layers || m.kind < 0 || m.kind >= model::kLinearKinds)
            throw InputError(m.name + ": layer or kind outside the model");
        by_layer_[static_cast<std::size_t>(m.layer)][static_cast<std::size_t>(m.kind)] = i;
        seen[static_cast<std::size_t>(m.layer)][static_cast<std::size_t>(m.kind)] = true;
    }
    for (const auto& s : seen)
        for (bool b : s)
            if (!b) throw InputError("the analysis does not cover every matrix of the model");
    const auto given = static_cast<std::int64_t>(widths.size());
    covers_vocab_ = given == all_tiles && all_tiles != linear_tiles;
    if (given != linear_tiles && given != all_tiles)
        throw InputError("the allocation has " + std::to_string(widths.size()) + " widths, the analysis " +
                         std::to_string(linear_tiles) + (per_group ? " row-groups" : " tiles") +
                         (all_tiles != linear_tiles ? " (" + std::to_string(all_tiles) + " with the embedding and lm_head)" : ""));
    // r, c and the Hessians come from the analysis file: mapped and parsed once, not per matrix.
    if (!a.file.empty()) file_ = io::read_safetensors(a.file);
    if (quantizer == Quantizer::GptqSequential) {
        if (!checkpoint) throw InputError("sequential GPTQ (gptq-seq) needs the analysed model to run its calibration set through");
        run_sequential(*checkpoint, device, progress);
    }
}

std::ptrdiff_t MatrixQuantizer::vocab_matrix(int kind) const {
    if (!covers_vocab_) return -1;
    for (std::size_t i = 0; i < a_.matrices.size(); ++i)
        if (a_.matrices[i].kind == kind) return static_cast<std::ptrdiff_t>(i);
    return -1;
}

const std::array<std::size_t, model::kLinearKinds>& MatrixQuantizer::layer_matrices(int layer) const {
    return by_layer_.at(static_cast<std::size_t>(layer));
}

quant::QuantizedMatrix MatrixQuantizer::quantize(std::size_t index, const torch::Tensor& w) const {
    return quantize_rows(index, 0, w);
}

MatrixQuantizer::Target MatrixQuantizer::target(std::size_t index, std::int64_t first, std::int64_t rows,
                                                torch::Device device) const {
    const MatrixAnalysis& whole = a_.matrices.at(index);
    if (first != 0 && (!is_vocab_kind(whole.kind) || first % whole.tile_rows() != 0 || granularity_ != WidthGranularity::Tile))
        throw std::logic_error("only a vocabulary matrix is quantized by rows, from a tile boundary");
    // The rows as a matrix of their own: its tile grid is the whole one's, from tile row first / Tr.
    Target t{vocab_chunk_record(whole, rows), {}, {}, {}, {}};
    const MatrixAnalysis& m = t.matrix;
    const std::size_t skip = static_cast<std::size_t>(first / m.tile_rows() * m.grid_cols());
    const bool vocab = is_vocab_kind(m.kind);
    if (vocab && !covers_vocab_) throw std::logic_error(m.name + " is not in the allocation");
    t.spec = granularity_ == WidthGranularity::Group ? quant::TileSpec{1, m.group(), m.group()}
                                                    : quant::TileSpec{m.tile_rows(), m.tile_cols(), m.group()};
    t.grid = torch::empty({t.spec.grid_rows(m.rows()), t.spec.grid_cols(m.cols())}, torch::kUInt8);
    std::memcpy(t.grid.data_ptr<std::uint8_t>(), widths_.data() + offsets_[index] + skip, static_cast<std::size_t>(t.grid.numel()));
    // The clip search is steered by the factored Fisher (r, c) of the reordered layout (the
    // per-weight F is not kept); for the original layout it is scattered back through the
    // permutations. A vocabulary matrix's rows are tokens (never permuted) and its columns move
    // with P_hidden.
    if (!reordered_) {
        if (!vocab)
            t.index = reorder::matrix_index(a_.permutations, a_.config, m.layer, static_cast<model::LinearKind>(m.kind));
        else if (!a_.permutations.hidden.empty())
            t.index.cols = torch::tensor(a_.permutations.hidden, torch::kLong);
    }
    const io::HostTensor* r = file_.find("r." + m.name);
    const io::HostTensor* c = file_.find("c." + m.name);
    if (r && c) {
        verify_checksum(file_, *r, a_.file);
        verify_checksum(file_, *c, a_.file);
        torch::Tensor rt = host_to_torch(*r).narrow(0, first, m.rows()), ct = host_to_torch(*c);
        r->release_pages();
        c->release_pages();
        if (t.index.rows.defined()) rt = torch::zeros_like(rt).index_copy_(0, t.index.rows, rt);
        if (t.index.cols.defined()) ct = torch::zeros_like(ct).index_copy_(0, t.index.cols, ct);
        t.weights = quant::ErrorWeights::factored(rt.to(device), ct.to(device));
    }
    return t;
}

torch::Tensor MatrixQuantizer::stored_hessian(const Target& t) const {
    const MatrixAnalysis& m = t.matrix;
    const auto site = calib::input_site(static_cast<model::LinearKind>(m.kind));
    const std::string hname = "hessian." + std::to_string(m.layer) + "." + calib::input_site_name(site);
    const io::HostTensor* stored_h = file_.find(hname);
    if (!stored_h) throw InputError(a_.file, "the analysis file has no tensor " + hname + " (needed by GPTQ)");
    verify_checksum(file_, *stored_h, a_.file);
    torch::Tensor h = host_to_torch(*stored_h);
    stored_h->release_pages();
    // Format 3 stores the upper triangle (calib::pack_upper_triangle), earlier ones the full matrix.
    if (h.dim() == 1) h = calib::unpack_upper_triangle(h.data_ptr<float>(), h.size(0), a_.file.string() + ": " + hname);
    // H_orig[perm[i], perm[j]] = H_reordered[i, j].
    if (t.index.cols.defined()) {
        const torch::Tensor inv = torch::argsort(t.index.cols);
        h = h.index_select(0, inv);  // one step at a time: two copies of H alive at most, not three
        h = h.index_select(1, inv);
    }
    return h;
}

quant::QuantizedMatrix MatrixQuantizer::quantize_vocab_rows(std::size_t index, const io::HostTensor& source,
                                                           std::int64_t first, std::int64_t count) const {
    torch::Tensor w = torch::empty({count, a_.matrices.at(index).cols()}, torch::kFloat);
    source.rows_to_float(first, count, w.data_ptr<float>());
    if (reordered_ && !a_.permutations.hidden.empty()) w = w.index_select(1, torch::tensor(a_.permutations.hidden, torch::kLong));
    return quantize_rows(index, first, w);
}

quant::QuantizedMatrix MatrixQuantizer::quantize_rows(std::size_t index, std::int64_t first, const torch::Tensor& w) const {
    torch::NoGradGuard no_grad;
    if (quantizer_ == Quantizer::GptqSequential && !is_vocab_kind(a_.matrices.at(index).kind)) {
        const quant::QuantizedMatrix& q = sequential_.at(index);
        if (!q.codes.defined() || first != 0 || q.rows != w.size(0) || q.cols != w.size(1))
            throw std::logic_error(a_.matrices[index].name + ": the sequential pass has no result of this shape");
        return q.to(w.device());  // shares the kept tensors on the CPU (never written)
    }
    const Target t = target(index, first, w.size(0), w.device());
    if (is_vocab_kind(t.matrix.kind)) {
        // Tiles kept at fp16 are quantized at 8 bits (their codes are not used) and carry the weights.
        const torch::Tensor kept = t.grid == quant::kKeptBits;
        const bool any_kept = kept.any().item<bool>();
        quant::QuantizedMatrix q = quant::quantize_rtn(w, t.spec, any_kept ? t.grid.masked_fill(kept, 8) : t.grid, t.weights);
        if (any_kept) {
            q.widths = t.grid.to(q.widths.device());
            q.kept = w.detach().to(torch::kFloat).to(torch::kHalf).to(torch::kFloat);
        }
        return q;
    }
    switch (quantizer_) {
        case Quantizer::Rtn: return quant::quantize_rtn(w, t.spec, t.grid, t.weights);
        case Quantizer::Gptq: return quant::quantize_gptq(w, stored_hessian(t).to(w.device()), t.spec, t.grid, t.weights);
        case Quantizer::GptqSequential: break;  // handed out above
    }
    throw std::logic_error("unknown quantizer");
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

void quantize_matrices(const model::LlamaModel& model, const MatrixQuantizer& mq, const QuantizedMatrixSink& sink,
                       const Progress& progress) {
    const Analysis& a = mq.analysis();
    double done = 0;
    const auto total = static_cast<double>(a.matrices.size());
    for (std::size_t i = 0; i < a.matrices.size(); ++i) {
        const auto& m = a.matrices[i];
        if (is_vocab_kind(m.kind)) continue;  // the linear layers only (fake_quantize does the others)
        progress.checkpoint(done++, total, std::string("quantizing (") + quantizer_name(mq.quantizer()) + ")");
        const auto& lin = model.layers().at(static_cast<std::size_t>(m.layer)).linear(static_cast<model::LinearKind>(m.kind));
        if (lin.override_op)
            throw InputError(m.name + " is a packed (exported) matrix; fake quantization needs the full-precision model");
        sink(m, mq.quantize(i, lin.weight));
    }
}

void fake_quantize(model::LlamaModel& model, const Analysis& a, const std::vector<std::uint8_t>& widths,
                   Quantizer quantizer, bool reordered, const Progress& progress, WidthGranularity granularity,
                   const model::Checkpoint* checkpoint) {
    // The vocabulary matrices of a whole-file allocation first (the model is already in the widths'
    // layout); a tied lm_head is the embedding's tensor, replaced with it.
    const MatrixQuantizer mq(a, widths, quantizer, reordered, granularity, checkpoint, model.device(), progress);
    for (int kind : {kEmbeddingKind, kLmHeadKind}) {
        const std::ptrdiff_t index = mq.vocab_matrix(kind);
        if (index < 0) continue;
        torch::NoGradGuard no_grad;
        torch::Tensor& t = kind == kEmbeddingKind ? model.embedding() : model.lm_head();
        t = mq.quantize(static_cast<std::size_t>(index), t).dequantize().to(t.dtype());
        if (kind == kEmbeddingKind && model.tied()) model.lm_head() = t;
    }
    quantize_matrices(
        model, mq,
        [&](const MatrixAnalysis& m, quant::QuantizedMatrix&& q) {
            torch::NoGradGuard no_grad;
            auto& w = model.layers().at(static_cast<std::size_t>(m.layer)).linear(static_cast<model::LinearKind>(m.kind)).weight;
            w = q.dequantize().to(w.dtype()).view_as(w);
        },
        progress);
}

}  // namespace scalebits::analysis
