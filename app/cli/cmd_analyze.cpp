#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "core/analysis/analysis_file.h"
#include "core/analysis/analyze.h"
#include "core/analysis/streamed_analyze.h"
#include "core/util/error.h"
#include "core/workflow/jobs.h"

namespace scalebits::cli {

namespace {
std::vector<int> parse_widths(const std::string& list) {
    std::vector<int> out;
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ',')) {
        try {
            std::size_t used = 0;
            const int b = std::stoi(item, &used);
            if (used != item.size()) throw std::invalid_argument(item);
            out.push_back(b);
        } catch (const std::exception&) {
            throw InputError("--bits expects a comma-separated list of widths, e.g. 2,3,4,8; got '" + list + "'");
        }
    }
    return out;
}

std::pair<std::int64_t, std::int64_t> parse_tile(const std::string& s) {
    const auto x = s.find('x');
    try {
        if (x == std::string::npos) throw std::invalid_argument(s);
        return {std::stoll(s.substr(0, x)), std::stoll(s.substr(x + 1))};
    } catch (const std::exception&) {
        throw InputError("--tile expects ROWSxCOLS, e.g. 128x128; got '" + s + "'");
    }
}
}  // namespace

int cmd_analyze(const Argv& argv) {
    auto opts = model_options();
    opts.insert({"calib", "samples", "seqlen", "tile", "group", "bits", "out", "seed", "max-memory", "work-dir"});
    Args args(argv, opts, {"json", "reorder-heads", "resume", "in-memory"});
    analysis::AnalysisOptions o;
    o.calib_text = args.get_or("calib", default_calib_text());
    o.samples = args.get_int("samples", 128);
    o.seq_len = args.get_int("seqlen", 512);
    std::tie(o.tile_rows, o.tile_cols) = parse_tile(args.get_or("tile", "128x128"));
    o.group = args.get_int("group", 0);
    if (auto bits = args.get("bits")) o.widths = parse_widths(*bits);  // else the default, every width 2..8
    o.seed = static_cast<std::uint64_t>(args.get_int("seed", 0x5CA1EB175LL));
    o.reorder_heads = args.flag("reorder-heads");
    o.device = args.get_or("device", "cpu");
    workflow::AnalyzeJob job;
    job.model = args.require("model");
    if (auto t = args.get("tokenizer")) job.tokenizer = *t;
    job.options = o;
    job.out = args.require("out");
    const std::string out = job.out.string();
    // Layer-streamed by default (streamed_analyze.h); --in-memory runs the reference that holds the
    // whole model and its statistics, which the streamed analysis is tested against.
    job.in_memory = args.flag("in-memory");
    if (auto v = args.get("max-memory")) job.stream.max_memory = parse_size("max-memory", *v);
    if (auto v = args.get("work-dir")) job.stream.work_dir = *v;
    job.stream.resume = args.flag("resume");
    if (job.in_memory && (job.stream.resume || args.get("max-memory") || args.get("work-dir")))
        throw InputError("--resume, --max-memory and --work-dir are for the streamed analysis, not --in-memory");
    const bool in_memory = job.in_memory;
    configure_threads(args);
    const workflow::AnalyzeOutcome outcome = workflow::run_analyze(job, cli_progress());
    const analysis::Analysis& a = outcome.analysis;
    const analysis::StreamReport& rep = outcome.report;
    std::vector<double> before, after;
    for (const auto& x : a.matrices) {
        before.push_back(x.top10_share_before);
        after.push_back(x.top10_share_after);
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v.empty() ? 0.0 : v[v.size() / 2];
    };
    nlohmann::json j = {{"out", out},
                        {"matrices", a.matrices.size()},
                        {"tiles", a.total_tiles()},
                        {"weights", a.total_weights()},
                        {"group", a.options.group},
                        {"widths", a.widths},
                        {"calib_loss", a.calib_loss},
                        {"seconds", a.seconds},
                        {"top10_share_before_median", median(before)},
                        {"top10_share_after_median", median(after)},
                        {"peak_rss_mb", peak_rss_mb()},
                        {"file_bytes", std::filesystem::file_size(out)},
                        {"streamed", !in_memory}};
    if (!in_memory) {
        const double layers = static_cast<double>(a.config.n_layers);
        j["max_memory_mb"] = static_cast<double>(rep.max_memory) / (1 << 20);
        j["layer_working_set_mb"] = static_cast<double>(rep.layer_working_set) / (1 << 20);
        j["activation_mb"] = static_cast<double>(rep.activation_bytes) / (1 << 20);
        j["activations_on_disk"] = rep.activations_on_disk;
        j["scratch_bytes"] = rep.scratch_bytes;
        j["layers_resumed"] = rep.layers_resumed;
        j["stage_seconds"] = {{"forward", rep.forward_seconds},
                              {"backward", rep.backward_seconds},
                              {"vocabulary", rep.vocab_seconds},
                              {"reordered", rep.reordered_seconds},
                              {"writing", rep.writing_seconds}};
        j["seconds_per_layer"] = (rep.forward_seconds + rep.backward_seconds + rep.reordered_seconds) / layers;
    }
    if (args.flag("json")) {
        print_json(j);
    } else {
        std::printf("analysis written to %s: %zu matrices, %lld tiles, calibration loss %.4f, %.1f s, peak memory %.0f MB\n"
                    "median top-10%% sensitivity share: %.3f before reordering, %.3f after\n",
                    out.c_str(), a.matrices.size(), static_cast<long long>(a.total_tiles()), a.calib_loss, a.seconds,
                    peak_rss_mb(), median(before), median(after));
    }
    return 0;
}

int cmd_inspect(const Argv& argv) {
    Args args(argv, {}, {"json"});
    if (args.positional().size() != 1) throw InputError("usage: scalebits-cli inspect ANALYSIS [--json]");
    const analysis::Analysis a = analysis::load_analysis(args.positional()[0]);
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& m : a.matrices)
        layers.push_back({{"name", m.name},
                          {"shape", {m.rows(), m.cols()}},
                          {"tiles", m.tile_count()},
                          {"top10_share_before", m.top10_share_before},
                          {"top10_share_after", m.top10_share_after},
                          {"factored_corr", m.factored_corr},
                          {"factored_log_corr", m.factored_log_corr},
                          {"fisher_total", m.fisher_total}});
    nlohmann::json j = {{"model", a.model_path.string()},
                        {"tile", {a.options.tile_rows, a.options.tile_cols}},
                        {"group", a.options.group},
                        {"widths", a.widths},
                        {"samples", a.options.samples},
                        {"seqlen", a.options.seq_len},
                        {"calib_loss", a.calib_loss},
                        {"layers", layers}};
    if (args.flag("json")) {
        print_json(j);
        return 0;
    }
    std::printf("%s: analysis of %s, tiles %lldx%lld, group %lld\n", args.positional()[0].c_str(), a.model_path.c_str(),
                static_cast<long long>(a.options.tile_rows), static_cast<long long>(a.options.tile_cols),
                static_cast<long long>(a.options.group));
    std::printf("%-48s %11s %6s %8s %8s %8s\n", "matrix", "shape", "tiles", "top10<", "top10>", "corr");
    for (const auto& m : a.matrices)
        std::printf("%-48s %5lldx%-5lld %6lld %8.3f %8.3f %8.3f\n", m.name.c_str(), static_cast<long long>(m.rows()),
                    static_cast<long long>(m.cols()), static_cast<long long>(m.tile_count()), m.top10_share_before,
                    m.top10_share_after, m.factored_corr);
    return 0;
}

}  // namespace scalebits::cli
