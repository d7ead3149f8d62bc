#pragma once
// The long jobs as one function each, for both faces: the CLI's commands parse arguments into these
// plain structs and print the outcome; the explorer's dialogs fill them from widgets and run them in
// a BackgroundJob. The steps and their order live here only (e.g. an export checks that the model is
// the one analysed before it reads it). Each takes a Progress (reports, and stops at the next
// checkpoint when its token is cancelled) and returns an immutable outcome.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/analysis/allocation.h"
#include "core/analysis/analysis.h"
#include "core/analysis/analyze.h"
#include "core/analysis/fake_quant.h"
#include "core/analysis/streamed_analyze.h"
#include "core/analysis/sweep.h"
#include "core/eval/streamed_perplexity.h"
#include "core/export/export.h"
#include "core/export/latency.h"
#include "core/util/cancel.h"

namespace scalebits::workflow {

struct AnalyzeJob {
    std::filesystem::path model;
    std::optional<std::filesystem::path> tokenizer;  // else the one beside or inside the model
    analysis::AnalysisOptions options;
    std::filesystem::path out;  // the analysis file; its folder is created
    // Layer-streamed (the default), or the in-memory reference that holds the whole model in fp32.
    bool in_memory = false;
    analysis::StreamOptions stream;
};

struct AnalyzeOutcome {
    analysis::Analysis analysis;
    analysis::StreamReport report;  // zero for an in-memory analysis
};

AnalyzeOutcome run_analyze(const AnalyzeJob& job, const Progress& progress);

enum class ExportFormat { Packed, HuggingFace };
// "packed" or "hf"; OptionError otherwise.
ExportFormat parse_export_format(const std::string& name);

struct ExportJob {
    std::optional<std::filesystem::path> model;      // else the analysis's model
    std::optional<std::filesystem::path> tokenizer;  // copied into the folder; else the model's own
    analysis::Quantizer quantizer = analysis::Quantizer::Rtn;
    ExportFormat format = ExportFormat::Packed;
    std::filesystem::path out;
    double budget_bits_per_weight = 0.0;  // the budget asked for, recorded in config.json; 0: the width reached
    // After a packed export: a decode latency run of this many tokens (0: none) after a prompt of
    // `latency_prompt_tokens` from `latency_text`, saved as latency_report.json in the folder.
    int latency_steps = 0;
    int latency_prompt_tokens = 16;
    std::filesystem::path latency_text;
};

struct ExportOutcome {
    exporting::ExportResult exported;
    std::optional<exporting::LatencyReport> latency;
};

// Checks that the model is the analysed one, reads it layer by layer where it lies, writes the
// folder (nothing under `out` until it is complete), then measures latency when asked.
ExportOutcome run_export(const analysis::Analysis& analysis, const analysis::Allocation& allocation, const ExportJob& job,
                         const Progress& progress);

// What scoring against a text needs, shared by the jobs that score (evaluate, uniform evaluate,
// model evaluate, sweep).
struct ScoringOptions {
    std::optional<std::filesystem::path> model;      // else the analysis's model (where there is one)
    std::optional<std::filesystem::path> tokenizer;  // else the one beside or inside the model
    std::string device = "cpu";
    std::filesystem::path text;        // the evaluation text
    std::int64_t max_bytes = 0;        // of the text (0: all of it)
    std::int64_t ctx = 512;            // window length, capped at the model's context
    std::int64_t max_windows = 0;      // 0: every window of the text
    std::uint64_t activation_bytes = eval::kDefaultActivationBytes;
};

struct EvaluateJob {
    ScoringOptions scoring;
    analysis::Quantizer quantizer = analysis::Quantizer::Rtn;
};

struct EvaluateOutcome {
    double avg_bits = 0.0;
    double ppl = 0.0, fp_ppl = 0.0;  // the quantized model's and the full-precision one's, same windows
    double kl = 0.0;                 // mean per-token KL(full precision || quantized)
    std::int64_t windows = 0;
};

// Perplexity and KL of `allocation`, fake-quantized, against the full-precision model: both layer by
// layer, neither held whole in fp32. Checks the model against the analysis first.
EvaluateOutcome run_evaluate(const analysis::Analysis& analysis, const analysis::Allocation& allocation,
                             const EvaluateJob& job, const Progress& progress);

// Perplexity of a model file as it is: a checkpoint (whole in fp32, or layer by layer when asked or
// when it would not fit) or an export (on the packed decode engine, or on LibTorch, its reference).
struct ModelEvaluateJob {
    ScoringOptions scoring;            // its model is required (there is no analysis to name one)
    std::int64_t batch = 1;            // windows per forward pass (whole-model path)
    bool stream = false;               // a checkpoint layer by layer even where it would fit
    bool torch_engine = false;         // an export on the LibTorch path instead of the decode engine
};

struct ModelEvaluateOutcome {
    std::filesystem::path model;  // the checkpoint's path as loaded
    eval::PerplexityResult ppl;
    std::int64_t ctx = 0;
    std::size_t text_bytes = 0;
    double tokenize_s = 0.0, load_s = 0.0;
    bool streamed = false;  // a checkpoint scored layer by layer
    bool native = false;    // an export scored on the decode engine
};

ModelEvaluateOutcome run_model_evaluate(const ModelEvaluateJob& job, const Progress& progress);

// The model of `config` in fp32 takes at most half the machine's available memory (else the
// commands that would hold it whole stream it layer by layer).
bool whole_model_fits(const model::ModelConfig& config);
// Bytes the whole model of `config` takes in fp32 (every canonical tensor).
std::uint64_t dense_fp32_bytes(const model::ModelConfig& config);

// Every linear layer at one width (the --uniform diagnostic: what reordering and the quantizer buy
// before any allocation), scored for perplexity layer by layer.
struct UniformEvaluateJob {
    ScoringOptions scoring;
    int bits = 4;
    analysis::Quantizer quantizer = analysis::Quantizer::Rtn;
    bool reordered = true;             // in the analysis's reordered layout, or the original one
};

struct UniformEvaluateOutcome {
    eval::PerplexityResult ppl;  // seconds: scoring only
    std::int64_t ctx = 0;
    double quantize_s = 0.0;
};

UniformEvaluateOutcome run_uniform_evaluate(const analysis::Analysis& analysis, const UniformEvaluateJob& job,
                                            const Progress& progress);

struct SweepJob {
    ScoringOptions scoring;
    analysis::SweepOptions sweep;      // budgets, methods, quantizers, refinement, constraints
};

struct SweepOutcome {
    std::int64_t ctx = 0;               // the window length used
    eval::PerplexityResult baseline;    // the full-precision model on the same windows
    std::vector<analysis::SweepRow> rows;
};

// The rate-quality table: checks the model against the analysis, scores the full-precision model
// once, then every row (analysis::run_sweep). `on_row` sees each row as it lands; `on_baseline` the
// full-precision figures before the first row. A cancel stops at the next checkpoint (Cancelled).
SweepOutcome run_sweep(const analysis::Analysis& analysis, const SweepJob& job,
                       const std::function<void(const eval::PerplexityResult& baseline, std::int64_t ctx)>& on_baseline,
                       const std::function<void(const analysis::SweepRow&)>& on_row, const Progress& progress);

}  // namespace scalebits::workflow
