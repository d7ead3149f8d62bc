#include "core/analysis/sweep.h"

#include <algorithm>
#include <chrono>

#include "core/analysis/quantized_stream.h"
#include "core/model/llama.h"
#include "core/util/error.h"

namespace scalebits::analysis {

eval::QualityResult evaluate_allocation(const model::Checkpoint& ckpt, const Analysis& a, const Allocation& alloc,
                                        Quantizer quantizer, const eval::ReferenceDistributions& reference,
                                        double* quantize_seconds, const Progress& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    model::LlamaModel m(ckpt, reference.model().device());
    apply_layout(m, a, alloc.reordered);
    fake_quantize(m, a, alloc.widths, quantizer, alloc.reordered, progress, alloc.granularity, &ckpt);
    if (quantize_seconds)
        *quantize_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return eval::compare_to_reference(m, reference, progress);
}

eval::QualityResult evaluate_allocation(const model::Checkpoint& ckpt, const Analysis& a, const Allocation& alloc,
                                        Quantizer quantizer, const eval::StreamedReference& reference,
                                        double* quantize_seconds, const Progress& progress) {
    // Before the scoring pass: the sequential GPTQ pass (in the quantizer's constructor) and, for a
    // whole-file allocation, the embedding and lm_head.
    const auto t0 = std::chrono::steady_clock::now();
    const MatrixQuantizer mq(a, alloc.widths, quantizer, alloc.reordered, alloc.granularity, &ckpt, reference.device(), progress);
    const model::Checkpoint ends = mq.covers_vocab() ? with_quantized_vocab(ckpt, mq, progress) : model::Checkpoint{};
    const double before = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double layers = 0;
    eval::StreamedModel m = quantized_layers(ckpt, mq, alloc.reordered, reference.device(), &layers);
    if (mq.covers_vocab()) m.ends = &ends;
    eval::QualityResult q = eval::compare_streamed(m, reference, progress);
    // The pass interleaves quantizing layers and scoring: the evaluation's time is what quantizing left.
    q.ppl.seconds = std::max(0.0, q.ppl.seconds - layers);
    q.ppl.tokens_per_s = q.ppl.seconds > 0 ? static_cast<double>(q.ppl.windows * reference.ctx()) / q.ppl.seconds : 0.0;
    if (quantize_seconds) *quantize_seconds = before + layers;
    return q;
}

std::vector<SweepRow> run_sweep(const model::Checkpoint& ckpt, const Analysis& a,
                                const eval::StreamedReference& reference, const SweepOptions& o,
                                const std::function<void(const SweepRow&)>& on_row, const Progress& progress) {
    if (o.budgets.empty() || o.methods.empty() || o.quantizers.empty())
        throw InputError("the sweep needs at least one budget, one method and one quantizer");
    // Refused now, not after the rows of the other quantizers have run.
    if (std::find(o.quantizers.begin(), o.quantizers.end(), Quantizer::GptqSequential) != o.quantizers.end())
        check_sequential_inputs(a, ckpt);
    std::vector<SweepRow> rows;
    for (Quantizer q : o.quantizers)
        for (AllocMethod method : o.methods)
            for (const Budget& budget : o.budgets) {
                progress.check();
                SweepRow row;
                row.budget = budget;
                row.method = method;
                row.quantizer = q;
                try {
                    row.allocation = allocate(a, method, budget, o.constraints);
                } catch (const InputError& e) {
                    row.error = e.what();
                }
                if (row.error.empty()) {
                    if (method == AllocMethod::ScaleBits && o.refine.rounds > 0) {
                        RefineOptions ro = o.refine;
                        ro.quantizer = q;
                        ro.constraints = o.constraints;
                        RefineResult r = refine_allocation(ckpt, a, row.allocation, budget, ro, progress);
                        row.allocation = std::move(r.allocation);
                        row.refine_rounds = std::move(r.rounds);
                        row.refine_fp_loss = r.fp_loss;
                        row.refine_chosen_round = r.chosen_round;
                    }
                    row.quality = evaluate_allocation(ckpt, a, row.allocation, q, reference, &row.quantize_s, progress);
                }
                if (on_row) on_row(row);
                rows.push_back(std::move(row));
            }
    return rows;
}

}  // namespace scalebits::analysis
