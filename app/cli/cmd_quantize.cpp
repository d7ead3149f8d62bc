#include <cstdio>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "core/alloc/allocator.h"
#include "core/alloc/bench_solver.h"
#include "core/alloc/methods.h"
#include "core/analysis/allocation.h"
#include "core/analysis/analysis_file.h"
#include "core/util/error.h"
#include "core/workflow/jobs.h"

namespace scalebits::cli {

int cmd_quantize_eval(const Argv& argv) {
    auto opts = model_options();
    opts.insert({"analysis", "uniform", "quantizer", "text", "ctx", "max-windows", "max-bytes", "activation-mb"});
    Args args(argv, opts, {"json", "no-reorder"});
    configure_threads(args);
    const analysis::Analysis a = analysis::load_analysis(args.require("analysis"));
    workflow::UniformEvaluateJob job;
    job.quantizer = analysis::parse_quantizer(args.get_or("quantizer", "rtn"));
    job.bits = static_cast<int>(args.get_int("uniform", 0));
    if (job.bits == 0) throw InputError("missing required option --uniform BITS");
    job.scoring = read_scoring_options(args);
    job.reordered = !args.flag("no-reorder");
    const workflow::UniformEvaluateOutcome out = workflow::run_uniform_evaluate(a, job, cli_progress());
    const auto& r = out.ppl;
    nlohmann::json j = {{"bits", job.bits},         {"quantizer", analysis::quantizer_name(job.quantizer)},
                        {"reordered", job.reordered}, {"ppl", r.ppl},
                        {"windows", r.windows},     {"predicted", r.predicted},
                        {"ctx", out.ctx},           {"quantize_s", out.quantize_s},
                        {"eval_s", r.seconds}};
    if (args.flag("json"))
        print_json(j);
    else
        std::printf("%d-bit %s: ppl %.4f over %lld windows of %lld\n", job.bits, analysis::quantizer_name(job.quantizer),
                    r.ppl, static_cast<long long>(r.windows), static_cast<long long>(out.ctx));
    return 0;
}

int cmd_allocate(const Argv& argv) {
    Args args(argv, kAllocationOptions, {"json"});
    const AllocationRequest request = parse_allocation_request(args);
    const analysis::Analysis a = analysis::load_analysis(request.analysis);
    const AllocMethod method = request.method;
    const analysis::Allocation alloc = analysis::allocate(a, method, request.budget, request.options);
    // Weights per width for each matrix type (q_proj, ..., down_proj, embed_tokens, lm_head; "16": kept
    // at fp16). The allocation's matrices are the analysis' in order, the vocabulary ones last if at all.
    std::vector<int> widths = a.widths;
    if (alloc.whole_file) widths.push_back(kKeptBits);
    nlohmann::json hist = nlohmann::json::object();
    for (std::size_t i = 0; i < alloc.weights_per_width.size(); ++i) {
        auto& h = hist[analysis::matrix_kind_name(a.matrices[i].kind)];
        if (h.is_null()) h = nlohmann::json::object();
        for (int b : widths) {
            const std::string key = std::to_string(b);
            h[key] = h.value(key, std::int64_t{0}) + alloc.weights_per_width[i][static_cast<std::size_t>(b)];
        }
    }
    nlohmann::json j = {{"method", alloc_method_name(method)},
                        {"scope", alloc.whole_file ? "all" : "linear"},
                        {"avg_bits", alloc.avg_bits},
                        {"bytes", alloc.total_bytes},
                        {"quantized_bytes", alloc.quantized_bytes},
                        {"predicted_loss", alloc.predicted_loss},
                        {"histogram", hist},
                        {"solve_us", alloc.solve_us}};
    if (args.flag("json"))
        print_json(j);
    else
        std::printf("%s: %.4f bits per weight, %lld bytes, predicted loss %.6g (solved in %.0f us)\n",
                    alloc_method_name(method), alloc.avg_bits, static_cast<long long>(alloc.total_bytes),
                    alloc.predicted_loss, alloc.solve_us);
    return 0;
}

int cmd_bench_solver(const Argv& argv) {
    Args args(argv, {"tiles", "resolves", "seed"}, {"json"});
    const auto r = bench_solver(args.get_int("tiles", 500000), static_cast<int>(args.get_int("resolves", 1000)),
                                static_cast<std::uint64_t>(args.get_int("seed", 1)));
    nlohmann::json j = {{"tiles", r.tiles},
                        {"ladder_steps", r.ladder_steps},
                        {"precompute_ms", r.precompute_ms},
                        {"precompute_cpu_ms", r.precompute_cpu_ms},
                        {"resolves", r.resolves},
                        {"resolve_median_us", r.resolve_median_us},
                        {"resolve_p90_us", r.resolve_p90_us},
                        {"resolve_max_us", r.resolve_max_us},
                        {"resolve_cpu_median_us", r.resolve_cpu_median_us},
                        {"slider_median_us", r.slider_median_us},
                        {"slider_p90_us", r.slider_p90_us},
                        {"slider_max_us", r.slider_max_us}};
    if (args.flag("json"))
        print_json(j);
    else
        std::printf("%lld tiles: precompute %.1f ms, re-solve median %.1f us (p90 %.1f us), slider median %.1f us\n",
                    static_cast<long long>(r.tiles), r.precompute_ms, r.resolve_median_us, r.resolve_p90_us,
                    r.slider_median_us);
    return 0;
}

}  // namespace scalebits::cli
