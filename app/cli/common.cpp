#include "app/cli/common.h"
#include "app/common/interrupt.h"
#include "core/workflow/jobs.h"
#include "core/workflow/workspace.h"

#include <torch/torch.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <thread>
#include <cstdio>
#include <iostream>

#include "core/analysis/streamed_analyze.h"
#include "core/model/threads.h"
#include "core/util/default_paths.h"
#include "core/util/error.h"

namespace scalebits::cli {

std::set<std::string> model_options() { return {"model", "tokenizer", "device", "threads"}; }

void configure_threads(const Args& args) { model::configure_cpu_threads(static_cast<int>(args.get_int("threads", 0))); }

LoadedModel load_model(const Args& args, ModelWeights weights) {
    const auto t0 = std::chrono::steady_clock::now();
    configure_threads(args);
    LoadedModel out;
    std::optional<std::filesystem::path> tok;
    if (auto t = args.get("tokenizer")) tok = *t;
    out.checkpoint = model::load_checkpoint(args.require("model"), tok);
    const torch::Device device = parse_device(args.get_or("device", "cpu"));
    if (weights != ModelWeights::None) out.model = make_model(out.checkpoint, device, weights);
    out.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
}

std::unique_ptr<model::LlamaModel> make_model(const model::Checkpoint& ckpt, torch::Device device, ModelWeights weights) {
    model::Residency residency = model::Residency::Whole;
    if (weights == ModelWeights::WholeOrStreamed && ckpt.packed.empty() && !workflow::whole_model_fits(ckpt.config)) {
        residency = model::Residency::Streamed;
        std::fprintf(stderr, "note: the model in fp32 (%.1f GB) does not fit in memory; its layers are read from the file "
                             "one at a time, which is slow\n", static_cast<double>(workflow::dense_fp32_bytes(ckpt.config)) / 1e9);
    }
    return std::make_unique<model::LlamaModel>(ckpt, device, residency);
}

std::uint64_t activation_bytes(const Args& args) {
    const std::int64_t mb = args.get_int("activation-mb", 1024);
    if (mb <= 0) throw InputError("--activation-mb must be positive");
    return static_cast<std::uint64_t>(mb) << 20;
}

workflow::ScoringOptions read_scoring_options(const Args& args) {
    workflow::ScoringOptions o;
    o.model = args.require("model");
    if (auto t = args.get("tokenizer")) o.tokenizer = *t;
    o.device = args.get_or("device", "cpu");
    o.text = args.require("text");
    o.max_bytes = args.get_int("max-bytes", 0);
    o.ctx = args.get_int("ctx", 512);
    o.max_windows = args.get_int("max-windows", 0);
    o.activation_bytes = activation_bytes(args);
    return o;
}

std::uint64_t parse_size(const std::string& option, const std::string& text) {
    std::size_t used = 0;
    double v = 0;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    double scale = 1;
    const std::string unit = text.substr(used);
    if (unit == "K" || unit == "k") scale = 1024.0;
    else if (unit == "M" || unit == "m") scale = 1024.0 * 1024;
    else if (unit == "G" || unit == "g") scale = 1024.0 * 1024 * 1024;
    else if (unit == "T" || unit == "t") scale = 1024.0 * 1024 * 1024 * 1024;
    else if (!unit.empty()) used = 0;
    if (used == 0 || !(v > 0) || v * scale > 1.8e19)
        throw InputError("--" + option + " expects a size such as 6G, 512M or a byte count; got '" + text + "'");
    return static_cast<std::uint64_t>(v * scale);
}

const tokenizer::Tokenizer& require_tokenizer(const model::Checkpoint& ckpt) {
    if (!ckpt.tokenizer)
        throw InputError(ckpt.path, "no tokenizer found for this model; pass --tokenizer FILE");
    return *ckpt.tokenizer;
}

namespace {
void print_progress(double done, double total, const std::string& stage) {
    static const bool tty = ::isatty(STDERR_FILENO) != 0;
    if (!tty || total <= 0) return;
    std::fprintf(stderr, "\r%s: %.0f / %.0f (%.0f%%)   ", stage.c_str(), done, total, 100.0 * done / total);
    if (done >= total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
}
}  // namespace

Progress cli_progress() {
    Progress p;
    p.token = &interrupt_token();
    p.report = print_progress;
    return p;
}

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << std::endl; }

std::string default_calib_text() { return default_calibration_text().string(); }

Budget parse_budget(const Args& args) {
    if (args.get("bytes")) return Budget::bytes(args.get_double("bytes", 0));
    if (!args.get("budget")) throw InputError("give a budget: --budget BITS_PER_WEIGHT or --bytes N");
    return Budget::bits_per_weight(args.get_double("budget", 0));
}

analysis::ProblemOptions parse_constraints(const Args& args) {
    analysis::ProblemOptions o;
    auto read = [&](const char* option, int analysis::WidthConstraint::*field) {
        const auto value = args.get(option);
        if (!value) return;
        std::stringstream ss(*value);
        std::string item;
        while (std::getline(ss, item, ',')) {
            const auto eq = item.rfind('=');
            int bits = 0;
            try {
                std::size_t used = 0;
                if (eq == std::string::npos || eq == 0) throw std::invalid_argument(item);
                bits = std::stoi(item.substr(eq + 1), &used);
                if (used != item.size() - eq - 1) throw std::invalid_argument(item);
            } catch (const std::exception&) {
                throw InputError(std::string("--") + option + " expects MATCH=BITS[,MATCH=BITS...], e.g. down_proj=4; got '" +
                                 item + "'");
            }
            o.constraints[item.substr(0, eq)].*field = bits;
        }
    };
    read("pin", &analysis::WidthConstraint::pinned_bits);
    read("min-bits", &analysis::WidthConstraint::min_bits);
    read("max-bits", &analysis::WidthConstraint::max_bits);
    // What a budget covers: every weight of the file (the embedding and lm_head allocated too, with
    // fp16 as their top rung), or the linear layers only (those two kept fp16 outside the budget).
    const std::string scope = args.get_or("scope", "all");
    if (scope != "all" && scope != "linear") throw InputError("--scope must be all or linear, got '" + scope + "'");
    o.whole_file = scope == "all";
    return o;
}

AllocationRequest parse_allocation_request(const Args& args) {
    AllocationRequest r;
    if (auto w = args.get("workspace")) {
        for (const auto& o : kAllocationOptions)
            if (o != "workspace" && args.get(o))
                throw InputError("--" + o + " cannot be given with --workspace, which holds the analysis, method, budget "
                                 "and constraints");
        const workflow::Workspace ws = workflow::load_workspace(*w);
        r.analysis = ws.analysis.string();
        r.method = ws.method;
        r.budget = Budget::bits_per_weight(ws.budget_bits);
        r.options = ws.options;
        return r;
    }
    r.analysis = args.require("analysis");
    r.method = parse_alloc_method(args.get_or("method", "scalebits"));
    r.budget = parse_budget(args);
    r.options = parse_constraints(args);
    return r;
}

}  // namespace scalebits::cli
