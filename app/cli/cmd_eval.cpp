#include <ATen/Parallel.h>

#include <cstdio>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "core/util/error.h"
#include "core/workflow/jobs.h"

namespace scalebits::cli {

int cmd_eval(const Argv& argv) {
    auto opts = model_options();
    opts.insert({"text", "ctx", "max-windows", "max-bytes", "batch", "activation-mb"});
    opts.insert("engine");
    Args args(argv, opts, {"json", "stream"});
    configure_threads(args);
    workflow::ModelEvaluateJob job;
    job.scoring = read_scoring_options(args);
    job.batch = args.get_int("batch", 1);
    // Layer-outer over the windows (streamed_perplexity.h) when asked, or when the model in fp32
    // would take more than half the available memory; an export runs on the decode engine
    // (packed_decoder.h) unless --engine torch asks for the LibTorch path, its reference.
    job.stream = args.flag("stream");
    const std::string engine = args.get_or("engine", "auto");
    if (engine != "auto" && engine != "torch") throw InputError("--engine must be auto or torch, got '" + engine + "'");
    job.torch_engine = engine == "torch";
    const workflow::ModelEvaluateOutcome out = workflow::run_model_evaluate(job, cli_progress());
    const eval::PerplexityResult& r = out.ppl;
    nlohmann::json j = {{"model", out.model.string()},
                        {"text", job.scoring.text.string()},
                        {"bytes", out.text_bytes},
                        {"ctx", out.ctx},
                        {"tokens", r.tokens},
                        {"windows", r.windows},
                        {"predicted", r.predicted},
                        {"nll", r.nll_sum / static_cast<double>(r.predicted)},
                        {"ppl", r.ppl},
                        {"seconds", r.seconds},
                        {"tokens_per_s", r.tokens_per_s},
                        {"tokenize_s", out.tokenize_s},
                        {"load_s", out.load_s},
                        {"torch_threads", at::get_num_threads()},
                        {"streamed", out.streamed},
                        {"engine", out.native ? "native" : "torch"},
                        {"peak_rss_mb", peak_rss_mb()}};
    if (args.flag("json")) {
        print_json(j);
    } else {
        std::printf("ppl %.4f over %lld windows of %lld tokens (%lld predicted), %.1f tokens/s\n", r.ppl,
                    static_cast<long long>(r.windows), static_cast<long long>(out.ctx),
                    static_cast<long long>(r.predicted), r.tokens_per_s);
    }
    return 0;
}

}  // namespace scalebits::cli
