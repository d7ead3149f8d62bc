#include <cstdio>
#include <stdexcept>

#include "app/cli/commands.h"
#include "core/util/error.h"
#include "tool.h"

#include <scalebits/kernels.h>

namespace scalebits::cli {

// The kernel tool's verify and bench modes under the CLI: `bench-kernels ... [--verify]` takes the
// same options as `scalebits-kernels bench` (which builds without the rest of the project).
int cmd_bench_kernels(const Argv& argv) {
    kernels::tool::Options opt;
    try {
        opt = kernels::tool::parse_options("bench", argv);
    } catch (const std::invalid_argument& e) {
        throw InputError(std::string(e.what()) +
                         "\nusage: scalebits-cli bench-kernels [--verify] [--device cpu|cuda] [--shapes NxK,...] "
                         "[--bits 2,3,4,8,mixed] [--batch 1,4,16] [--group G] [--threads T] [--iters I] [--json]");
    }
    // A missing GPU is the user's input (exit 2), not an internal error.
    if (opt.device == "cuda" && !kernels::cuda_available())
        throw InputError("--device cuda: no CUDA device is visible, or this build has no CUDA kernels");
    if (opt.mode == "verify") return kernels::tool::run_verify(opt) == 0 ? 0 : 1;
    return kernels::tool::run_bench(opt);
}

}  // namespace scalebits::cli
