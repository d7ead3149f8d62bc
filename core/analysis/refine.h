#pragma once
// End-to-end refinement of a scalebits allocation (DESIGN.md 2.4): the S tables of the analysis are
// linearized at the full-precision model; after an allocation, fake-quantize the model with it,
// take the Fisher again at the quantized weights (gradients through the fake-quantized model),
// rebuild every tile's S(t, b) with that Fisher against the full-precision weights, and re-solve the
// same budget. Each round moves many tiles at once instead of one tile per forward pass. The
// result is the best round by measured calibration loss.
#include <cstdint>
#include <vector>

#include "core/alloc/budget.h"
#include "core/analysis/allocation.h"
#include "core/analysis/fake_quant.h"
#include "core/analysis/problem.h"
#include "core/model/checkpoint.h"
#include "core/util/cancel.h"

namespace scalebits::analysis {

struct RefineOptions {
    int rounds = 1;
    // Calibration sequences for the refinement passes, drawn like the analysis' own set (same text,
    // seed and length) but fewer: each round is one Fisher pass over them.
    std::int64_t samples = 16;
    Quantizer quantizer = Quantizer::Rtn;  // what fake-quantizes the model for the gradient pass
    ProblemOptions constraints;            // the pins and width limits the start was solved with
};

struct RefineRound {
    int round = 0;                 // 0 = the starting allocation
    double predicted_loss = 0.0;   // sum of S over the allocation, S of this round's linearization
    double measured_loss = 0.0;    // mean calibration loss of the fake-quantized model (nats)
    double avg_bits = 0.0;
    std::int64_t tiles_changed = 0;  // against the previous round
    double seconds = 0.0;
};

struct RefineResult {
    // The allocation of the round with the lowest measured calibration loss (the start when no
    // re-solve improved on it): refinement never returns something worse on its own measure.
    Allocation allocation;
    int chosen_round = 0;
    double fp_loss = 0.0;           // the full-precision model's loss on the refinement set
    std::vector<RefineRound> rounds;  // rounds + 1 entries: the start and every re-solve
};

// `start` must be a tile allocation in the reordered layout (the scalebits method). Throws
// InputError otherwise; CancelledError through `progress`.
RefineResult refine_allocation(const model::Checkpoint& checkpoint, const Analysis& analysis, const Allocation& start,
                               const Budget& budget, const RefineOptions& options, const Progress& progress = {});

}  // namespace scalebits::analysis
