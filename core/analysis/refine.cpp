#include "core/analysis/refine.h"

#include "core/analysis/vocab_tables.h"

#include <torch/torch.h>

#include <chrono>
#include <limits>

#include "core/alloc/allocator.h"
#include "core/calib/calib_set.h"
#include "core/calib/sensitivity.h"
#include "core/model/llama.h"
#include "core/quant/tile_costs.h"
#include "core/util/error.h"
#include "core/util/option_error.h"

namespace scalebits::analysis {

namespace {
// Mean next-token loss over the sequences, forward only.
double mean_loss(const model::LlamaModel& model, const torch::Tensor& tokens, const Progress& progress) {
    torch::InferenceMode guard;
    double sum = 0.0;
    const std::int64_t n = tokens.size(0), len = tokens.size(1);
    for (std::int64_t s = 0; s < n; ++s) {
        progress.check();
        const torch::Tensor ids = tokens[s].unsqueeze(0).to(model.device());
        const torch::Tensor logits = model.forward(ids)[0].narrow(0, 0, len - 1);
        sum += torch::nn::functional::cross_entropy(logits, ids[0].narrow(0, 1, len - 1)).item<double>();
    }
    return sum / static_cast<double>(n);
}

std::int64_t count_changed(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
    std::int64_t n = 0;
    for (std::size_t i = 0; i < a.size(); ++i) n += a[i] != b[i];
    return n;
}
}  // namespace

RefineResult refine_allocation(const model::Checkpoint& ckpt, const Analysis& a, const Allocation& start,
                               const Budget& budget, const RefineOptions& o, const Progress& progress) {
    if (start.granularity != WidthGranularity::Tile || !start.reordered)
        throw InputError("refinement applies to tile allocations in the reordered layout (the scalebits method)");
    if (o.rounds < 0) throw OptionError(Setting::Rounds, "the number of refinement rounds must not be negative");
    if (!ckpt.tokenizer) throw InputError(ckpt.path, "no tokenizer: the calibration text cannot be tokenized");
    const calib::CalibrationSet set = calib::load_calibration_set(*ckpt.tokenizer, a.options.calib_text, o.samples,
                                                                  a.options.seq_len, a.options.seed);
    // The full-precision weights in the reordered layout: S is always measured against them.
    model::LlamaModel fp(ckpt);
    apply_layout(fp, a, true);

    RefineResult result;
    result.fp_loss = mean_loss(fp, set.tokens, progress);
    ProblemOptions po = o.constraints;
    po.reordered = true;
    po.whole_file = start.whole_file;
    TileProblem problem = make_tile_problem(a, po);
    Allocation current = start;
    std::int64_t changed = 0;  // tiles the last re-solve moved
    // A re-linearization can overshoot: the result is the round with the lowest measured loss.
    Allocation best = start;
    double best_loss = std::numeric_limits<double>::infinity();
    auto keep_if_best = [&](const RefineRound& rr) {
        if (rr.measured_loss < best_loss) {
            best_loss = rr.measured_loss;
            best = current;
            result.chosen_round = rr.round;
        }
    };
    for (int round = 0;; ++round) {
        const auto t0 = std::chrono::steady_clock::now();
        model::LlamaModel q(ckpt);
        apply_layout(q, a, true);
        fake_quantize(q, a, current.widths, o.quantizer, true, progress, WidthGranularity::Tile, &ckpt);
        RefineRound rr;
        rr.round = round;
        rr.avg_bits = current.avg_bits;
        rr.predicted_loss = current.predicted_loss;
        rr.tiles_changed = changed;
        if (round == o.rounds) {
            rr.measured_loss = mean_loss(q, set.tokens, progress);
            rr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            result.rounds.push_back(rr);
            keep_if_best(rr);
            break;
        }
        // Fisher at the quantized weights; the pass also measures the quantized model's loss.
        calib::SensitivityOptions so;
        so.factored = false;
        so.hessian = false;
        so.vocab = start.whole_file;
        calib::Sensitivity sens = calib::compute_sensitivity(q, set.tokens, so, progress);
        rr.measured_loss = sens.mean_loss;
        rr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        result.rounds.push_back(rr);
        keep_if_best(rr);

        // New S tables: the same quantizer as the analysis, weighted by the new Fisher (the model is in
        // the reordered layout, so each table is that layout's).
        Analysis updated_tables = a;
        for (auto& m : updated_tables.matrices) {
            progress.check();
            if (is_vocab_kind(m.kind)) {
                if (!start.whole_file) continue;
                torch::Tensor f = m.kind == kEmbeddingKind ? sens.embedding_fisher : sens.lm_head_fisher;
                apply_unseen_row_rule(f, m.kind, a.config);
                VocabTablesBuilder b(vocab_matrix_record(a.config, m.kind, {m.tile_rows(), m.tile_cols(), m.group()}), {}, a.widths);
                b.add_rows(0, (m.kind == kEmbeddingKind ? fp.embedding() : fp.lm_head()).detach(), f);
                m.cost_reordered = b.finish().cost_original;
                continue;
            }
            const auto kind = static_cast<model::LinearKind>(m.kind);
            const torch::Tensor& w = fp.layers()[static_cast<std::size_t>(m.layer)].linear(kind).weight;
            const auto& f = sens.layers[static_cast<std::size_t>(m.layer)][kind].fisher;
            const quant::TileCostTable t = quant::tile_costs(w, {m.tile_rows(), m.tile_cols(), m.group()}, a.widths,
                                                             quant::ErrorWeights::fisher(f));
            const auto c = t.costs.contiguous();
            m.cost_reordered.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
        }
        problem.S = make_tile_problem(updated_tables, po).S;
        TileAllocation next = TileAllocator(problem).solve(budget);
        Allocation updated = current;
        updated.predicted_loss = next.predicted_loss;
        updated.avg_bits = next.avg_bits;
        updated.budget_bits = next.budget_bits;
        updated.quantized_bytes = next.quantized_bytes;
        updated.total_bytes = next.total_bytes;
        updated.weights_per_width = weights_per_width(problem.matrices, next.widths);
        changed = count_changed(current.widths, next.widths);
        updated.widths = std::move(next.widths);
        current = std::move(updated);
    }
    result.allocation = best;
    return result;
}

}  // namespace scalebits::analysis
