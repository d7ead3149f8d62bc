#include <cmath>
#include <cstdio>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "core/analysis/allocation.h"
#include "core/analysis/analysis_file.h"
#include "core/workflow/jobs.h"

namespace scalebits::cli {

int cmd_export(const Argv& argv) {
    auto opts = model_options();
    opts.insert({"quantizer", "out", "format"});
    opts.insert(kAllocationOptions.begin(), kAllocationOptions.end());
    Args args(argv, opts, {"json"});
    const AllocationRequest request = parse_allocation_request(args);
    const analysis::Analysis a = analysis::load_analysis(request.analysis);
    const AllocMethod method = request.method;
    const Budget& budget = request.budget;
    workflow::ExportJob job;
    if (auto m = args.get("model")) job.model = *m;  // else the model the analysis was made from
    if (auto t = args.get("tokenizer")) job.tokenizer = *t;
    job.quantizer = analysis::parse_quantizer(args.get_or("quantizer", "rtn"));
    // packed (default): the kernels' format, what every command runs; hf: the same weights
    // dequantized to fp16 as an ordinary Hugging Face folder, for other tools to score.
    const std::string format = args.get_or("format", "packed");
    job.format = workflow::parse_export_format(format);
    job.out = args.require("out");
    const analysis::Allocation alloc = analysis::allocate(a, method, budget, request.options);
    if (budget.unit == Budget::Unit::BitsPerWeight) job.budget_bits_per_weight = budget.value;  // else run_export records the width reached
    configure_threads(args);
    const auto r = workflow::run_export(a, alloc, job, cli_progress()).exported;
    const std::string out = job.out.string();
    const double rel = static_cast<double>(r.model_file_bytes - r.predicted_bytes) / static_cast<double>(r.predicted_bytes);
    nlohmann::json j = {{"out", out},
                        {"format", format},
                        {"method", alloc_method_name(method)},
                        {"quantizer", analysis::quantizer_name(job.quantizer)},
                        {"avg_bits", alloc.avg_bits},
                        {"predicted_bytes", r.predicted_bytes},  // of the packed file (for hf: what packed would be)
                        {"model_file_bytes", r.model_file_bytes},
                        {"folder_bytes", r.folder_bytes},
                        {"seconds", r.seconds},
                        {"peak_rss_mb", peak_rss_mb()}};
    if (job.format == workflow::ExportFormat::Packed) j["size_rel_diff"] = rel;
    if (args.flag("json"))
        print_json(j);
    else if (job.format == workflow::ExportFormat::HuggingFace)
        std::printf("exported %s (%s) to %s as a Hugging Face fp16 folder: %.4f bits per weight dequantized, "
                    "model.safetensors %lld bytes (packed it would be %lld), %.1f s\n",
                    alloc_method_name(method), analysis::quantizer_name(job.quantizer), out.c_str(), alloc.avg_bits,
                    static_cast<long long>(r.model_file_bytes), static_cast<long long>(r.predicted_bytes), r.seconds);
    else
        std::printf("exported %s (%s) to %s: %.4f bits per weight, model.safetensors %lld bytes, predicted %lld "
                    "(%+.3f%%), %.1f s\n",
                    alloc_method_name(method), analysis::quantizer_name(job.quantizer), out.c_str(), alloc.avg_bits,
                    static_cast<long long>(r.model_file_bytes), static_cast<long long>(r.predicted_bytes), 100 * rel,
                    r.seconds);
    return 0;
}

}  // namespace scalebits::cli
