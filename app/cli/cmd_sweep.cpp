#include <cmath>
#include <cstdio>
#include <sstream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "core/analysis/analysis_file.h"
#include "core/util/error.h"
#include "core/workflow/jobs.h"

namespace scalebits::cli {

namespace {
std::vector<std::string> split_list(const std::string& list) {
    std::vector<std::string> out;
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

// Each item is bits per weight ("3.5") or a size of model.safetensors with a decimal unit ("70MB",
// "1.2GB", "96700000B"), so a rate-quality table can compare methods and scopes at equal file size.
std::vector<Budget> parse_budgets(const std::string& list) {
    static const std::pair<const char*, double> units[] = {{"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}, {"KB", 1e3}, {"B", 1}};
    std::vector<Budget> out;
    for (const auto& item : split_list(list)) {
        try {
            std::size_t used = 0;
            const double v = std::stod(item, &used);
            const std::string unit = item.substr(used);
            if (unit.empty()) {
                out.push_back(Budget::bits_per_weight(v));
                continue;
            }
            bool known = false;
            for (const auto& [name, scale] : units)
                if (unit == name) {
                    out.push_back(Budget::bytes(std::round(v * scale)));
                    known = true;
                }
            if (!known) throw std::invalid_argument(item);
        } catch (const std::exception&) {
            throw InputError("--budgets expects bits per weight or file sizes separated by commas, e.g. 2.5,3,4 or "
                             "60MB,70MB; got '" + list + "'");
        }
    }
    return out;
}

// "3.000" for bits per weight, "70.0MB" for a file size: the budget column of the table.
std::string budget_label(const Budget& b) {
    char buf[32];
    if (b.unit == Budget::Unit::BitsPerWeight) std::snprintf(buf, sizeof buf, "%.3f", b.value);
    else std::snprintf(buf, sizeof buf, "%.1fMB", b.value / 1e6);
    return buf;
}

nlohmann::json row_json(const analysis::SweepRow& r) {
    nlohmann::json j = {{"method", alloc_method_name(r.method)},
                        {"quantizer", analysis::quantizer_name(r.quantizer)},
                        {"budget", r.budget.value},
                        {"budget_unit", r.budget.unit == Budget::Unit::Bytes ? "bytes" : "bits_per_weight"}};
    if (!r.error.empty()) {
        j["error"] = r.error;
        return j;
    }
    j["avg_bits"] = r.allocation.avg_bits;
    j["bytes"] = r.allocation.total_bytes;
    j["predicted_loss"] = r.allocation.predicted_loss;
    j["ppl"] = r.quality.ppl.ppl;
    j["kl"] = r.quality.kl;
    j["kl_max"] = r.quality.kl_max;
    j["quantize_s"] = r.quantize_s;
    j["eval_s"] = r.quality.ppl.seconds;
    if (!r.refine_rounds.empty()) {
        nlohmann::json rounds = nlohmann::json::array();
        for (const auto& rr : r.refine_rounds)
            rounds.push_back({{"round", rr.round},
                              {"predicted_loss", rr.predicted_loss},
                              {"measured_loss", rr.measured_loss},
                              {"avg_bits", rr.avg_bits},
                              {"tiles_changed", rr.tiles_changed},
                              {"seconds", rr.seconds}});
        j["refine_rounds"] = rounds;
        j["refine_fp_loss"] = r.refine_fp_loss;
        j["refine_chosen_round"] = r.refine_chosen_round;
    }
    return j;
}

void print_row(const analysis::SweepRow& r) {
    if (!r.error.empty()) {
        std::printf("%-15s %-8s %8s  infeasible: %s\n", alloc_method_name(r.method),
                    analysis::quantizer_name(r.quantizer), budget_label(r.budget).c_str(), r.error.c_str());
    } else {
        std::printf("%-15s %-8s %8s %8.4f %12lld %10.4f %9.5f\n", alloc_method_name(r.method),
                    analysis::quantizer_name(r.quantizer), budget_label(r.budget).c_str(), r.allocation.avg_bits,
                    static_cast<long long>(r.allocation.total_bytes), r.quality.ppl.ppl, r.quality.kl);
        for (const auto& rr : r.refine_rounds)
            std::printf("    refine round %d: predicted %.5g, measured calibration loss %.5f (full precision %.5f), %lld tiles "
                        "moved%s\n",
                        rr.round, rr.predicted_loss, rr.measured_loss, r.refine_fp_loss,
                        static_cast<long long>(rr.tiles_changed), rr.round == r.refine_chosen_round ? " (kept)" : "");
    }
    std::fflush(stdout);
}
}  // namespace

int cmd_sweep(const Argv& argv) {
    auto opts = model_options();
    opts.insert({"analysis", "budgets", "methods", "quantizer", "text", "ctx", "max-windows", "max-bytes", "rounds",
                 "refine-samples", "activation-mb"});
    opts.insert(kConstraintOptions.begin(), kConstraintOptions.end());
    Args args(argv, opts, {"json"});
    configure_threads(args);
    const analysis::Analysis a = analysis::load_analysis(args.require("analysis"));
    workflow::SweepJob job;
    job.scoring = read_scoring_options(args);
    analysis::SweepOptions& so = job.sweep;
    so.budgets = parse_budgets(args.get_or("budgets", "2.5,3,3.5,4"));
    for (const auto& m : split_list(args.get_or("methods", "scalebits,tile-noreorder,layer,uniform,uniform-mix,group")))
        so.methods.push_back(parse_alloc_method(m));
    so.quantizers.clear();
    for (const auto& q : split_list(args.get_or("quantizer", "rtn"))) so.quantizers.push_back(analysis::parse_quantizer(q));
    so.refine.rounds = static_cast<int>(args.get_int("rounds", 0));
    so.refine.samples = args.get_int("refine-samples", 16);
    so.constraints = parse_constraints(args);

    // Every row is evaluated layer by layer (no fp32 copy of the whole model); refinement rounds
    // load the model whole (refine.h).
    const bool json = args.flag("json");
    auto on_baseline = [json](const eval::PerplexityResult& base, std::int64_t ctx) {
        if (json) return;
        std::printf("full precision: ppl %.4f over %lld windows of %lld tokens\n", base.ppl,
                    static_cast<long long>(base.windows), static_cast<long long>(ctx));
        std::printf("%-15s %-8s %8s %8s %12s %10s %9s\n", "method", "quant", "budget", "bits", "bytes", "ppl", "KL");
    };
    // With --json the table comes at the end on stdout; each row also goes to stderr as one JSON
    // line the moment it is measured, so a long sweep shows (and keeps) its results as they land.
    auto on_row = [json](const analysis::SweepRow& r) {
        if (!json) return print_row(r);
        std::fprintf(stderr, "%s\n", row_json(r).dump().c_str());
        std::fflush(stderr);
    };
    const workflow::SweepOutcome out = workflow::run_sweep(a, job, on_baseline, on_row, cli_progress());
    if (json) {
        nlohmann::json j = {{"ctx", out.ctx},
                            {"windows", out.baseline.windows},
                            {"predicted", out.baseline.predicted},
                            {"fp_ppl", out.baseline.ppl},
                            {"rows", nlohmann::json::array()}};
        for (const auto& r : out.rows) j["rows"].push_back(row_json(r));
        print_json(j);
    }
    return 0;
}

}  // namespace scalebits::cli
