#pragma once
// Wiring shared by the subcommands: model loading from --model/--tokenizer/--device, JSON output.
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <memory>
#include <set>
#include <string>

#include "app/common/args.h"
#include "app/common/peak_rss.h"
#include "core/alloc/budget.h"
#include "core/alloc/methods.h"
#include "core/analysis/problem.h"
#include "core/model/checkpoint.h"
#include "core/model/device.h"
#include "core/model/llama.h"
#include "core/util/cancel.h"
#include "core/workflow/jobs.h"

namespace scalebits::cli {

struct LoadedModel {
    model::Checkpoint checkpoint;
    std::unique_ptr<model::LlamaModel> model;
    double load_seconds = 0.0;
};

// --threads N (0: the library's default) for the commands that do not go through load_model.
void configure_threads(const Args& args);

// Options every model-taking subcommand accepts.
std::set<std::string> model_options();

using model::parse_device;  // core/model/device.h
// What load_model builds beside the checkpoint: no model (layer-streamed commands read the
// checkpoint's tensors where they lie), the whole model in fp32, or the whole model when it fits
// (its fp32 weights under half the available memory) and else a streamed one (model::Residency).
enum class ModelWeights { None, Whole, WholeOrStreamed };
LoadedModel load_model(const Args& args, ModelWeights weights);
// The model of a loaded checkpoint as `weights` says (not None); `ckpt` must outlive a streamed one.
std::unique_ptr<model::LlamaModel> make_model(const model::Checkpoint& ckpt, torch::Device device, ModelWeights weights);
// --activation-mb: memory for the activations of a layer-streamed evaluation (default 1024 MiB).
std::uint64_t activation_bytes(const Args& args);
// The options every scoring command (eval, quantize-eval, sweep) shares: --model, --tokenizer,
// --device, --text, --max-bytes, --ctx (512), --max-windows (0: all), --activation-mb.
workflow::ScoringOptions read_scoring_options(const Args& args);
// A byte count with an optional K, M, G or T suffix (powers of 1024), e.g. "6G", "512M", "1.5G".
std::uint64_t parse_size(const std::string& option, const std::string& text);
const tokenizer::Tokenizer& require_tokenizer(const model::Checkpoint& ckpt);

// Every command's progress: human-facing lines on stderr when it is a terminal, and the token
// Ctrl+C cancels (interrupt.h).
Progress cli_progress();

void print_json(const nlohmann::json& j);

// --budget BITS_PER_WEIGHT or --bytes N (one is required).
Budget parse_budget(const Args& args);

// Width constraints from --pin, --min-bits and --max-bits, each a comma-separated list of
// MATCH=BITS where MATCH is a matrix name, a layer prefix ("model.layers.0.") or a kind ("down_proj").
analysis::ProblemOptions parse_constraints(const Args& args);
inline const std::set<std::string> kConstraintOptions = {"pin", "min-bits", "max-bits", "scope"};

// What an allocation is made of: from --workspace W (the explorer's saved workspace), or from
// --analysis, --method, --budget/--bytes and the constraint options; giving both is an error.
struct AllocationRequest {
    std::string analysis;
    AllocMethod method = AllocMethod::ScaleBits;
    Budget budget;
    analysis::ProblemOptions options;
};
inline const std::set<std::string> kAllocationOptions = {"workspace", "analysis", "budget", "bytes", "method",
                                                         "pin",       "min-bits", "max-bits", "scope"};
AllocationRequest parse_allocation_request(const Args& args);

// ../shared/data/c4/c4-sample.utf8 relative to the source tree, for --calib's default.
std::string default_calib_text();

}  // namespace scalebits::cli
