#pragma once
// One function per subcommand; each parses its own options and returns the process exit code.
#include <string>
#include <vector>

namespace scalebits::cli {

using Argv = std::vector<std::string>;

int cmd_info(const Argv& argv);
int cmd_generate(const Argv& argv);
int cmd_eval(const Argv& argv);
int cmd_analyze(const Argv& argv);
int cmd_inspect(const Argv& argv);
int cmd_quantize_eval(const Argv& argv);
int cmd_allocate(const Argv& argv);
int cmd_sweep(const Argv& argv);
int cmd_export(const Argv& argv);
int cmd_bench_kernels(const Argv& argv);
int cmd_bench(const Argv& argv);
int cmd_bench_solver(const Argv& argv);
int cmd_bench_matmul(const Argv& argv);
int cmd_make_synthetic(const Argv& argv);

}  // namespace scalebits::cli
