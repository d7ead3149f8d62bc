#pragma once
// The rate-quality sweep (DESIGN.md 2.4-2.5): for every quantizer, method and budget, solve the
// allocation, fake-quantize a fresh copy of the full-precision model with it and measure
// perplexity and KL against the full-precision model on the same windows. Rows come out one by one
// (a long sweep shows results as they land and a cancelled one keeps what it measured).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/alloc/methods.h"
#include "core/analysis/allocation.h"
#include "core/analysis/refine.h"
#include "core/eval/reference.h"
#include "core/eval/streamed_perplexity.h"
#include "core/model/checkpoint.h"
#include "core/util/cancel.h"

namespace scalebits::analysis {

struct SweepOptions {
    std::vector<Budget> budgets;
    std::vector<AllocMethod> methods;
    std::vector<Quantizer> quantizers{Quantizer::Rtn};
    // End-to-end refinement rounds for the scalebits method (0 = none); its options' quantizer is
    // overridden by the row's.
    RefineOptions refine = [] {
        RefineOptions none;
        none.rounds = 0;
        return none;
    }();
    ProblemOptions constraints;  // pins and width limits, for every method
};

struct SweepRow {
    Budget budget;
    AllocMethod method = AllocMethod::ScaleBits;
    Quantizer quantizer = Quantizer::Rtn;
    std::string error;  // non-empty when the budget is infeasible for the method (no measurement)
    Allocation allocation;
    std::vector<RefineRound> refine_rounds;  // scalebits with rounds > 0
    double refine_fp_loss = 0.0;             // the full-precision loss on the refinement set
    int refine_chosen_round = 0;
    eval::QualityResult quality;
    double quantize_s = 0.0;
};

// `reference` was built from `checkpoint`. Every row is evaluated layer by layer (one layer of the
// model resident at a time). Calls `on_row` after every row (also infeasible ones) and returns them all.
std::vector<SweepRow> run_sweep(const model::Checkpoint& checkpoint, const Analysis& analysis,
                                const eval::StreamedReference& reference, const SweepOptions& options,
                                const std::function<void(const SweepRow&)>& on_row = {},
                                const Progress& progress = {});

// Fake-quantizes the checkpoint with `allocation` and scores it: what one sweep row and the GUI's
// "evaluate at this budget" measure. Layer-streamed (quantized_stream.h): one layer resident at a time.
eval::QualityResult evaluate_allocation(const model::Checkpoint& checkpoint, const Analysis& analysis,
                                        const Allocation& allocation, Quantizer quantizer,
                                        const eval::StreamedReference& reference, double* quantize_seconds = nullptr,
                                        const Progress& progress = {});
// The same on a whole fp32 copy of the model: the reference the streamed evaluation is tested against.
eval::QualityResult evaluate_allocation(const model::Checkpoint& checkpoint, const Analysis& analysis,
                                        const Allocation& allocation, Quantizer quantizer,
                                        const eval::ReferenceDistributions& reference, double* quantize_seconds = nullptr,
                                        const Progress& progress = {});

}  // namespace scalebits::analysis
