#pragma once
// A workspace: what a user found in the explorer, kept as a small JSON file they can reopen, share
// or hand to the CLI (allocate and export --workspace): the analysis, the method, the budget and
// the width constraints (pins and limits, single tiles' pins, whether the budget covers the whole file).
//
//   {"format": "scalebits-workspace", "version": 1, "analysis": "smollm2.sba",
//    "method": "scalebits", "budget_bits_per_weight": 3.5, "scope": "all",
//    "constraints": {"down_proj": {"pinned_bits": 8}, "model.layers.0.": {"min_bits": 4}},
//    "tile_pins": {"model.layers.3.mlp.down_proj.weight": {"17": 8}}}
//
// "analysis" is stored relative to the workspace's folder when it lies under it, so a folder with
// both files can be moved or shared.
#include <filesystem>

#include "core/alloc/methods.h"
#include "core/analysis/problem.h"

namespace scalebits::workflow {

struct Workspace {
    std::filesystem::path analysis;  // absolute once loaded
    AllocMethod method = AllocMethod::ScaleBits;
    double budget_bits = 4.0;        // bits per weight, over the scope
    analysis::ProblemOptions options;  // scope (whole_file) and constraints
};

// Writes atomically. Throws InputError naming the file when it cannot.
void save_workspace(const Workspace& workspace, const std::filesystem::path& file);

// Throws InputError/FormatError naming the file and the field for anything malformed (unknown
// method, width outside 2..8, a budget that is not a positive number, unknown keys).
Workspace load_workspace(const std::filesystem::path& file);

}  // namespace scalebits::workflow
