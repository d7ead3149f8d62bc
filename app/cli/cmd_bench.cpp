#include <cstdio>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "core/export/latency.h"
#include "core/model/threads.h"
#include "core/util/error.h"

namespace scalebits::cli {

// Decode speed of an exported (packed) model against the same weights dense, in one run.
int cmd_bench(const Argv& argv) {
    Args args(argv, {"model", "steps", "prompt-tokens", "text", "device", "threads"}, {"json"});
    if (args.get_or("device", "cpu") != "cpu")
        throw InputError("bench runs exported models on the CPU in this build; the CUDA kernels are measured by "
                         "bench-kernels --device cuda");
    model::configure_cpu_threads(static_cast<int>(args.get_int("threads", 0)));
    const Progress progress = cli_progress();
    const auto r = exporting::measure_latency(args.require("model"), args.get_or("text", default_calib_text()),
                                              args.get_int("prompt-tokens", 16), args.get_int("steps", 64), progress);
    if (args.flag("json")) {
        print_json(r.to_json());
        return 0;
    }
    std::printf("decode on the CPU, batch 1, %lld steps after a %lld-token prompt\n",
                static_cast<long long>(r.native.steps), static_cast<long long>(r.prompt_tokens));
    std::printf("  native engine: %8.1f tokens/s (prompt %.0f tokens/s), %llu weight bytes per token; limit at %.1f GB/s "
                "read: %.1f tokens/s (%.0f%%)\n",
                r.native.tokens_per_s, static_cast<double>(r.prompt_tokens) / r.native.prefill_seconds,
                static_cast<unsigned long long>(r.native_bytes_per_token), r.read_bandwidth_gbps,
                r.bandwidth_limit_tokens_per_s(), 100 * r.native.tokens_per_s / r.bandwidth_limit_tokens_per_s());
    std::printf("  LibTorch packed: %6.1f tokens/s, %4.1f%% of the time in linear layers, %lld weight bytes\n",
                r.packed.tokens_per_s, 100 * r.packed.linear_share, static_cast<long long>(r.packed_weight_bytes));
    std::printf("  dense fp32:    %8.1f tokens/s, %4.1f%% of the time in linear layers, %lld weight bytes\n",
                r.dense.tokens_per_s, 100 * r.dense.linear_share, static_cast<long long>(r.dense_weight_bytes));
    std::printf("  native over dense x%.2f\n", r.speedup());
    return 0;
}

}  // namespace scalebits::cli
