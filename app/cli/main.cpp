// scalebits-cli: the command-line twin of the explorer. Parses the subcommand and maps errors to
// exit codes: 2 for bad input (the message names the file and the problem), 1 for internal errors.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "app/cli/commands.h"
#include "core/util/error.h"
#include "core/util/exception_text.h"
#include "core/util/version.h"

namespace {

struct Command {
    const char* name;
    int (*run)(const scalebits::cli::Argv&);
    const char* summary;
};

const Command kCommands[] = {
    {"info", scalebits::cli::cmd_info, "print a model's configuration, tensors and tokenizer"},
    {"generate", scalebits::cli::cmd_generate, "greedy text generation from a prompt"},
    {"eval", scalebits::cli::cmd_eval, "perplexity over a text file (non-overlapping windows)"},
    {"analyze", scalebits::cli::cmd_analyze, "calibrate: sensitivity, channel reordering, per-tile cost tables"},
    {"inspect", scalebits::cli::cmd_inspect, "summarize an analysis file per matrix"},
    {"quantize-eval", scalebits::cli::cmd_quantize_eval, "fake-quantize at a uniform width and measure perplexity"},
    {"allocate", scalebits::cli::cmd_allocate, "solve the bit allocation for a budget"},
    {"sweep", scalebits::cli::cmd_sweep, "perplexity and KL for every method and budget (rate-quality table)"},
    {"export", scalebits::cli::cmd_export, "write a packed model folder for an allocation (runs through the kernels)"},
    {"bench-solver", scalebits::cli::cmd_bench_solver, "benchmark the allocation ladder on synthetic tables"},
    {"bench", scalebits::cli::cmd_bench, "decode tokens/s of an exported model against its dense weights"},
    {"bench-kernels", scalebits::cli::cmd_bench_kernels, "verify or benchmark the packed mixed-width kernels (--verify, --json)"},
    {"bench-matmul", scalebits::cli::cmd_bench_matmul, "fp32 matrix-multiply throughput of this machine (LibTorch)"},
};

void usage(std::FILE* to) {
    std::fprintf(to, "scalebits-cli %s - mixed-precision LLM weight quantization\n\nusage: scalebits-cli <command> [options]\n\ncommands:\n",
                 scalebits::version_string());
    for (const auto& c : kCommands) std::fprintf(to, "  %-12s %s\n", c.name, c.summary);
    std::fprintf(to, "\nEvery command takes --json for machine-readable output.\n");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const std::string name = argv[1];
    if (name == "--help" || name == "-h" || name == "help") {
        usage(stdout);
        return 0;
    }
    if (name == "--version") {
        std::printf("scalebits-cli %s\n", scalebits::version_string());
        return 0;
    }
    const std::vector<std::string> rest(argv + 2, argv + argc);
    for (const auto& c : kCommands) {
        if (name != c.name) continue;
        try {
            return c.run(rest);
        } catch (const scalebits::InputError& e) {
            std::fprintf(stderr, "scalebits-cli %s: error: %s\n", c.name, e.what());
            return 2;
        } catch (const scalebits::CancelledError&) {
            std::fprintf(stderr, "scalebits-cli %s: cancelled\n", c.name);
            return 130;
        } catch (const std::exception& e) {
            const auto t = scalebits::describe_exception(e);
            std::fprintf(stderr, "scalebits-cli %s: %s: %s\n", c.name, t.out_of_memory ? "error" : "internal error",
                         t.message.c_str());
            return 1;
        }
    }
    std::fprintf(stderr, "scalebits-cli: unknown command '%s'\n\n", name.c_str());
    usage(stderr);
    return 2;
}
