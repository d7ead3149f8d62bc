#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "core/model/threads.h"
#include "core/util/blas_core.h"

namespace scalebits::cli {

// The machine's fp32 matrix-multiply throughput through the same LibTorch/BLAS the model uses, at
// the shapes a ctx-512 forward of a small model runs, so eval's tokens/s can be read against it.
int cmd_bench_matmul(const Argv& argv) {
    Args args(argv, {"threads", "m", "k", "n", "repeats"}, {"json"});
    model::configure_cpu_threads(static_cast<int>(args.get_int("threads", 0)));
    const std::int64_t m = args.get_int("m", 512), k = args.get_int("k", 576), n = args.get_int("n", 1536);
    const int repeats = static_cast<int>(args.get_int("repeats", 50));
    torch::InferenceMode guard;
    auto a = torch::randn({m, k}), w = torch::randn({n, k});
    for (int i = 0; i < 3; ++i) (void)torch::nn::functional::linear(a, w);
    std::vector<double> times;
    for (int i = 0; i < repeats; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        (void)torch::nn::functional::linear(a, w);
        times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    const double median = times[times.size() / 2];
    const double gflops = 2.0 * static_cast<double>(m * k * n) / median / 1e9;
    if (args.flag("json")) {
        print_json({{"m", m}, {"k", k}, {"n", n}, {"torch_threads", at::get_num_threads()}, {"blas_core", util::blas_core_name()}, {"median_s", median},
                    {"gflops", gflops}, {"best_gflops", 2.0 * static_cast<double>(m * k * n) / times.front() / 1e9}});
    } else {
        const std::string core = util::blas_core_name();
        std::printf("%lldx%lld * %lldx%lld: %.1f GFLOP/s median (%d threads, BLAS kernels: %s)\n", static_cast<long long>(m),
                    static_cast<long long>(k), static_cast<long long>(k), static_cast<long long>(n), gflops,
                    at::get_num_threads(), core.empty() ? "not OpenBLAS" : core.c_str());
    }
    return 0;
}

}  // namespace scalebits::cli
