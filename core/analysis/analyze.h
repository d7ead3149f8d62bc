#pragma once
// The analysis pipeline (DESIGN.md 2.1-2.3): calibration set -> per-weight Fisher, r/c and Hessians
// -> per-tile cost tables in the original layout -> sensitivity-driven channel permutations folded
// into the weights -> cost tables in the reordered layout -> the analysis file.
#include <filesystem>

#include "core/analysis/analysis.h"
#include "core/model/checkpoint.h"
#include "core/model/llama.h"
#include "core/util/cancel.h"

namespace scalebits::analysis {

// Analyzes `model` (loaded from `checkpoint`), which is left reordered. Writes the file to `out`
// only when the whole analysis succeeded (atomically); CancelledError through `progress` publishes
// nothing. Throws InputError on bad options.
Analysis analyze(const model::Checkpoint& checkpoint, model::LlamaModel& model, const AnalysisOptions& options,
                 const std::filesystem::path& out, const Progress& progress = {});

// An analysis record of `checkpoint` for `options` before any statistics: model path, fingerprint,
// config, options with the group decided, widths sorted and unique. Throws InputError on bad options
// or a checkpoint without a tokenizer. Both the in-memory and the streamed analysis start here.
Analysis start_analysis(const model::Checkpoint& checkpoint, const AnalysisOptions& options);

// The tile geometry the options give for this model (automatic group when options.group is 0).
struct TileGeometry {
    std::int64_t tile_rows, tile_cols, group;
};
TileGeometry tile_geometry(const model::ModelConfig& config, const AnalysisOptions& options);

}  // namespace scalebits::analysis
