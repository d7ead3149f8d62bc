// scalebits-kernels: verify the packed kernels against the CPU reference, or benchmark them.
//   scalebits-kernels verify [--device cpu|cuda] [--threads T]
//   scalebits-kernels bench --device cpu|cuda --shapes 4096x4096,... --bits 2,3,4,8,mixed
//                           --batch 1,4,16 [--group 128] [--threads T] [--iters I] [--json]
// Exit codes: 0 ok, 1 verify mismatch, 2 bad arguments or runtime error, 77 (CTest's skip code)
// verify --device cpu under a SCALEBITS_CPU_PATH cap this CPU cannot take, or one that changes nothing here.
#include "cases.h"
#include "tool.h"

#include "scalebits/kernels.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <stdexcept>
#include <string>

using namespace scalebits::kernels::tool;

namespace {
constexpr int kSkipped = 77;
}

int main(int argc, char** argv) {
    Options opt;
    try {
        if (argc < 2) throw std::invalid_argument("missing mode (verify or bench)");
        opt = parse_options(argv[1], std::vector<std::string>(argv + 2, argv + argc));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "scalebits-kernels: %s\nusage: scalebits-kernels verify|bench [--device cpu|cuda] "
                             "[--shapes NxK,...] [--bits 2,3,4,8,mixed] [--batch 1,4,16] [--group G] [--threads T] "
                             "[--iters I] [--json]\n", e.what());
        return 2;
    }
    try {
        if (opt.mode == "verify") {
            if (opt.cpu_only && scalebits::kernels::cpu_path_cap_unavailable()) {
                std::printf("verify: SCALEBITS_CPU_PATH=%s runs no kernel of its own on this CPU (it would run %s, "
                            "which its own case checks): skipped\n", std::getenv("SCALEBITS_CPU_PATH"),
                            scalebits::kernels::cpu_path().c_str());
                return kSkipped;
            }
            return run_verify(opt) == 0 ? 0 : 1;
        }
        return run_bench(opt);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "scalebits-kernels: %s\n", e.what());
        return 2;
    }
}
