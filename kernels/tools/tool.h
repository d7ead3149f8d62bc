// Options shared by the modes of the scalebits-kernels tool.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace scalebits::kernels::tool {

struct Options {
    std::string mode;                                  // verify | bench
    std::string device = "cpu";                        // cpu | cuda
    bool cpu_only = false;                             // verify: skip CUDA even if present
    std::vector<std::pair<std::size_t, std::size_t>> shapes{{4096, 4096}};
    std::vector<int> bits{3};                          // width specs (see cases.h)
    std::vector<int> batches{1};
    int threads = 0;                                   // 0: all hardware threads
    int iters = 0;                                     // 0: automatic
    std::size_t group = 128, tile = 128;
    bool json = false;
    bool check_error = true;                           // bench: compare against the reference
};

// mode: verify | bench; args: the options after it. Throws std::invalid_argument on a bad option.
Options parse_options(const std::string& mode, const std::vector<std::string>& args);

int run_verify(const Options& opt);
int run_bench(const Options& opt);

}  // namespace scalebits::kernels::tool
