#include "core/analysis/analyze.h"

#include <torch/torch.h>

#include <chrono>

#include "core/analysis/analysis_file.h"
#include "core/analysis/matrix_tables.h"
#include "core/analysis/vocab_tables.h"
#include "core/calib/calib_set.h"
#include "core/analysis/export_size.h"
#include "core/calib/sensitivity.h"
#include "core/quant/quantized_matrix.h"
#include "core/reorder/reorder.h"
#include "core/util/error.h"
#include "core/util/option_error.h"

namespace scalebits::analysis {

TileGeometry tile_geometry(const model::ModelConfig& c, const AnalysisOptions& o) {
    if (o.tile_rows <= 0 || o.tile_cols <= 0) throw OptionError(Setting::Tile, "a tile needs two positive sizes, rows by columns, e.g. 128x128");
    std::int64_t g = o.group;
    if (g == 0)
        g = quant::TileSpec::automatic_group({c.dim, c.hidden_dim, c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim},
                                             o.tile_cols);
    quant::TileSpec spec{o.tile_rows, o.tile_cols, g};
    spec.validate();
    return {spec.tile_rows, spec.tile_cols, spec.group};
}

Analysis start_analysis(const model::Checkpoint& ckpt, const AnalysisOptions& o) {
    if (!ckpt.tokenizer) throw InputError(ckpt.path, "no tokenizer: the calibration text cannot be tokenized");
    if (o.widths.empty()) throw OptionError(Setting::Widths, "at least one candidate width is needed");
    for (int b : o.widths)
        if (b < 2 || b > 8) throw OptionError(Setting::Widths, "the width " + std::to_string(b) + " is outside 2..8 bits");
    const TileGeometry geo = tile_geometry(ckpt.config, o);
    Analysis a;
    a.model_path = std::filesystem::absolute(ckpt.path);
    a.fingerprint = fingerprint_model(ckpt.path);
    a.config = ckpt.config;
    a.options = o;
    a.options.group = geo.group;
    a.widths = o.widths;
    std::sort(a.widths.begin(), a.widths.end());
    a.widths.erase(std::unique(a.widths.begin(), a.widths.end()), a.widths.end());
    return a;
}

Analysis analyze(const model::Checkpoint& ckpt, model::LlamaModel& model, const AnalysisOptions& o,
                 const std::filesystem::path& out, const Progress& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    Analysis a = start_analysis(ckpt, o);
    const auto& cfg = model.config();
    const quant::TileSpec spec{a.options.tile_rows, a.options.tile_cols, a.options.group};

    const calib::CalibrationSet set = calib::load_calibration_set(*ckpt.tokenizer, o.calib_text, o.samples, o.seq_len, o.seed);
    a.options.seed = set.seed;
    Progress fisher_progress = progress;
    calib::SensitivityOptions so;
    so.vocab = true;
    calib::Sensitivity sens = calib::compute_sensitivity(model, set.tokens, so, fisher_progress);
    a.calib_loss = sens.mean_loss;

    const int layers = static_cast<int>(cfg.n_layers);
    const double units = 2.0 * layers * model::kLinearKinds;
    double done = 0;
    for (int l = 0; l < layers; ++l) {
        for (int k = 0; k < model::kLinearKinds; ++k) {
            progress.checkpoint(done++, units, "cost tables (original layout)");
            const auto kind = static_cast<model::LinearKind>(k);
            const torch::Tensor& w = model.layers()[static_cast<std::size_t>(l)].linear(kind).weight;
            MatrixAnalysis m = matrix_record(cfg, l, kind, spec);
            MatrixTables t = matrix_tables(w, sens.layers[static_cast<std::size_t>(l)][kind].fisher, spec, a.widths);
            m.cost_original = std::move(t.cost);
            m.fisher_original = std::move(t.fisher);
            a.matrices.push_back(std::move(m));
        }
    }

    reorder::ReorderOptions ro;
    ro.heads = o.reorder_heads;
    a.permutations = reorder::compute_permutations(sens, cfg, ro);
    // The vocabulary matrices, whole (one chunk), from the weights in the original layout.
    std::vector<VocabTablesBuilder> vocab;
    for (int kind : vocab_kinds(cfg)) {
        torch::Tensor f = kind == kEmbeddingKind ? sens.embedding_fisher : sens.lm_head_fisher;
        apply_unseen_row_rule(f, kind, cfg);
        vocab.emplace_back(vocab_matrix_record(cfg, kind, spec), a.permutations.hidden, a.widths);
        vocab.back().add_rows(0, (kind == kEmbeddingKind ? model.embedding() : model.lm_head()).detach(), f);
    }
    sens.embedding_fisher = sens.lm_head_fisher = torch::Tensor();
    reorder::apply_to_model(model, a.permutations);
    calib::Sensitivity sr = reorder::permute_sensitivity(sens, a.permutations, cfg);
    sens = {};  // the original-layout statistics are no longer needed

    std::vector<std::vector<float>> group_costs;  // per matrix, reordered layout
    for (auto& m : a.matrices) {
        progress.checkpoint(done++, units, "cost tables (reordered layout)");
        const auto kind = static_cast<model::LinearKind>(m.kind);
        const auto& ls = sr.layers[static_cast<std::size_t>(m.layer)][kind];
        const torch::Tensor& w = model.layers()[static_cast<std::size_t>(m.layer)].linear(kind).weight;
        MatrixTables t = matrix_tables(w, ls.fisher, spec, a.widths);
        m.cost_reordered = std::move(t.cost);
        m.fisher_reordered = std::move(t.fisher);
        group_costs.push_back(std::move(t.group_cost));
        m.fisher_total = ls.fisher.sum().item<double>();
        m.top10_share_before = top_share(m.fisher_original);
        m.top10_share_after = top_share(m.fisher_reordered);
        const auto corr = calib::factored_correlation(ls.fisher, ls.r, ls.c);
        m.factored_corr = corr.pearson;
        m.factored_log_corr = corr.log_pearson;
    }
    const std::size_t linear = a.matrices.size();
    for (auto& v : vocab) a.matrices.push_back(v.finish());
    a.unquantized_bytes = exporting::export_overhead_bytes(a);
    progress.checkpoint(units, units, "writing");
    a.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    a.file = out;
    save_analysis(a, out, [&](io::SafetensorsWriter& wr) {
        const auto nw = static_cast<std::int64_t>(a.widths.size());
        for (std::size_t i = linear; i < a.matrices.size(); ++i) {
            const auto& m = a.matrices[i];
            const auto& v = vocab[i - linear];
            wr.add_f32("cost.group." + m.name, {static_cast<std::int64_t>(v.group_costs().size()) / nw, nw}, v.group_costs());
            wr.add_f32("r." + m.name, {m.rows()}, v.row_sums());
            wr.add_f32("c." + m.name, {m.cols()}, v.col_sums());
        }
        for (std::size_t i = 0; i < linear; ++i) {
            const auto& m = a.matrices[i];
            const auto kind = static_cast<model::LinearKind>(m.kind);
            wr.add_f32("cost.group." + m.name, {static_cast<std::int64_t>(group_costs[i].size()) / nw, nw},
                       std::move(group_costs[i]));
            const auto& ls = sr.layers[static_cast<std::size_t>(m.layer)][kind];
            wr.add_f32("r." + m.name, {m.rows()}, to_floats(ls.r));
            wr.add_f32("c." + m.name, {m.cols()}, to_floats(ls.c));
        }
        for (int l = 0; l < layers; ++l)
            for (int s = 0; s < calib::kInputSites; ++s) {
                const auto& h = sr.layers[static_cast<std::size_t>(l)].hessian[static_cast<std::size_t>(s)];
                if (!h.defined()) continue;
                const torch::Tensor packed = calib::pack_upper_triangle(h);
                wr.add("hessian." + std::to_string(l) + "." + calib::input_site_name(static_cast<calib::InputSite>(s)),
                       "F32", {packed.numel()},
                       {static_cast<const std::uint8_t*>(packed.data_ptr()), static_cast<std::size_t>(packed.nbytes())},
                       std::make_shared<torch::Tensor>(packed));
            }
    }, progress);
    return a;
}

}  // namespace scalebits::analysis
