#pragma once
// One entry point from an analysis, a method and a budget to an allocation, for every front end
// (allocate, sweep, export, the GUI's "evaluate at this budget"): builds the method's problem
// (reordered or original S table, tiles or row-groups) and solves it once.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/alloc/budget.h"
#include "core/alloc/methods.h"
#include "core/analysis/analysis.h"
#include "core/analysis/fake_quant.h"
#include "core/analysis/problem.h"

namespace scalebits::analysis {

struct Allocation {
    AllocMethod method = AllocMethod::ScaleBits;
    WidthGranularity granularity = WidthGranularity::Tile;
    bool reordered = true;             // which layout the widths belong to
    bool whole_file = false;           // the widths cover the vocabulary matrices too (after the linear layers)
    std::vector<std::uint8_t> widths;  // per tile or per row-group, analysis order
    std::int64_t budget_bits = 0;
    std::int64_t quantized_bytes = 0;
    std::int64_t total_bytes = 0;
    double avg_bits = 0.0;
    double predicted_loss = 0.0;
    // Weights per width (index = bits) for every matrix, analysis order.
    std::vector<std::array<std::int64_t, kWidthSlots>> weights_per_width;
    double solve_us = 0.0;  // the solve alone (problem construction excluded)
};

// The layout a method is solved and quantized in: everything but tile-noreorder is reordered.
bool method_uses_reordered_layout(AllocMethod method);

// Throws InputError for an infeasible budget or constraints (and for group when the analysis file
// has no per-group tables).
Allocation allocate(const Analysis& analysis, AllocMethod method, const Budget& budget,
                    const ProblemOptions& options = {});

}  // namespace scalebits::analysis
