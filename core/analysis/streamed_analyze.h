#pragma once
// The analysis of a model larger than memory (the file format and how streaming fills it: analysis_file.h): the same
// statistics and tables as analyze() (analyze.h), computed one decoder layer at a time from the
// checkpoint's tensors in their stored type, so the working set is one layer plus the activations at
// layer boundaries. Passes:
//  1. forward: h_0 (embedding rows of the calibration tokens) .. h_L, one layer loaded at a time;
//  2. head: each sequence's loss and dL_s/dh_L through the final norm and the lm_head, read in
//     row chunks;
//  3. top-down backward: each layer recomputed under autograd from h_l and dL_s/dh_{l+1}, giving
//     its per-weight Fisher (-> the original layout's tables and the Fisher's row and column sums,
//     then dropped) and dL_s/dh_l for the layer below;
//  4. the permutations, from the row and column sums of every layer, then the vocabulary matrices'
//     Fisher and tables (vocab_tables.h), a chunk of rows at a time;
//  5. per layer again: the Fisher, r, c and Hessians recomputed, gathered into the reordered layout,
//     and its tables;
//  6. the analysis file, assembled from the per-layer results without holding them all.
// Every pass writes its per-layer results to a work folder beside the output as the layer finishes;
// a cancelled or killed run continues from there with `resume` and writes the same tensors.
#include <cstdint>
#include <filesystem>

#include "core/analysis/analysis.h"
#include "core/model/checkpoint.h"
#include "core/util/cancel.h"

namespace scalebits::analysis {

struct StreamOptions {
    // Memory the analysis may use, in bytes; 0 = 80% of the machine's available memory now. The
    // boundary activations stay in memory when they fit beside one layer's working set, else go to
    // files in the work folder.
    std::uint64_t max_memory = 0;
    bool resume = false;             // continue an unfinished analysis from its work folder
    std::filesystem::path work_dir;  // empty: "<out>.work" beside the output
};

struct StreamReport {
    std::uint64_t max_memory = 0;            // the limit used
    std::uint64_t layer_working_set = 0;     // estimated bytes of one layer's pass
    std::uint64_t activation_bytes = 0;      // the boundary activations h_0 .. h_L
    bool activations_on_disk = false;
    std::uint64_t scratch_bytes = 0;         // the work folder's size at its largest
    int layers_resumed = 0;                  // per-layer results found in the work folder and reused
    double forward_seconds = 0, backward_seconds = 0, reordered_seconds = 0, writing_seconds = 0;
    double vocab_seconds = 0;  // the embedding and lm_head tables
};

// Analyzes the checkpoint (no model is loaded whole) and writes `out` atomically, then removes the
// work folder. Throws InputError on bad options, a limit below one layer's working set, or a work
// folder made for another model or other options (with `resume`); CancelledError through
// `progress` (checked before every sequence of every layer), leaving the work folder for a resume.
Analysis analyze_streamed(const model::Checkpoint& checkpoint, const AnalysisOptions& options,
                          const std::filesystem::path& out, const StreamOptions& stream = {},
                          const Progress& progress = {}, StreamReport* report = nullptr);

// The machine's available memory in bytes (MemAvailable), 0 when unknown.
std::uint64_t available_memory_bytes();

}  // namespace scalebits::analysis
