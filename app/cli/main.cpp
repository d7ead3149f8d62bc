// scalebits-cli: the command-line twin of the explorer. Parses the subcommand and maps errors to
// exit codes: 2 for bad input (the message names the file and the problem), 1 for internal errors.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "app/cli/commands.h"
#include "app/common/option_names.h"
#include "core/util/allocator_tuning.h"
#include "core/util/blas_core.h"
#include "core/util/error.h"
#include "core/util/exception_text.h"
#include "core/util/option_error.h"
#include "core/util/version.h"

namespace {

struct Command {
    const char* name;
    int (*run)(const scalebits::cli::Argv&);
    const char* summary;
    const char* options;  // what `scalebits-cli NAME --help` prints after the usage line
};



const Command kCommands[] = {
    {"info", scalebits::cli::cmd_info, "print a model's configuration, tensors and tokenizer", "--model M [--tokenizer T] [--json]"},
    {"generate", scalebits::cli::cmd_generate, "text generation from a prompt (greedy, or sampled with a seed)", "--model M [--tokenizer T] --prompt TEXT [--steps N] [--greedy | --temperature T [--top-k K] [--top-p P] [--seed S]] [--engine auto|native|torch] [--json]\n\nExports run on the native decode engine (--engine torch: the LibTorch path, its reference)."},
    {"eval", scalebits::cli::cmd_eval, "perplexity over a text file (non-overlapping windows)", "--model M [--tokenizer T] --text FILE [--ctx 512] [--max-windows K] [--max-bytes B] [--batch B] [--stream] [--activation-mb MB] [--engine auto|torch] [--json]\n\nExports run on the native decode engine (--engine torch: the LibTorch path). --stream runs layer by layer over all windows (the default when the model in fp32 would take over half the available memory)."},
    {"analyze", scalebits::cli::cmd_analyze, "calibrate: sensitivity, channel reordering, per-tile cost tables", "--model M [--calib FILE] [--samples 128] [--seqlen 512] [--tile 128x128] [--group G] [--bits 2,3,4,5,6,7,8] [--seed S] [--reorder-heads] [--max-memory SIZE] [--resume] [--work-dir D] [--in-memory] --out A [--json]"},
    {"inspect", scalebits::cli::cmd_inspect, "summarize an analysis file per matrix", "ANALYSIS [--json]"},
    {"quantize-eval", scalebits::cli::cmd_quantize_eval, "fake-quantize at a uniform width and measure perplexity", "--model M --analysis A --uniform BITS [--quantizer rtn|gptq|gptq-seq] [--no-reorder] --text FILE [--ctx 512] [--max-windows K] [--activation-mb MB] [--json]"},
    {"allocate", scalebits::cli::cmd_allocate, "solve the bit allocation for a budget", "(--workspace W | --analysis A (--budget BITS | --bytes N) [--scope all|linear] [--method scalebits|tile-noreorder|layer|uniform|uniform-mix|group] [--pin MATCH=BITS,...] [--min-bits MATCH=BITS,...] [--max-bits MATCH=BITS,...]) [--json]\n\n--workspace W: the analysis, method, budget and constraints saved by the explorer (File > Save workspace).\n\nMATCH is a matrix name, a layer prefix (model.layers.0.) or a kind (down_proj).\n\n--scope all (the default): a budget in bits per weight counts every weight of the file, the embedding and lm_head allocated too (fp16 is their top rung); --scope linear: the linear layers only, those two kept at fp16 outside the budget."},
    {"sweep", scalebits::cli::cmd_sweep, "perplexity and KL for every method and budget (rate-quality table)", "--model M --analysis A [--budgets 2.5,3,3.5,4 | 60MB,70MB] [--scope all|linear] [--methods LIST] [--quantizer rtn,gptq,gptq-seq] --text FILE [--ctx 512] [--max-windows K] [--rounds R] [--refine-samples S] [--activation-mb MB] [--pin|--min-bits|--max-bits MATCH=BITS,...] [--json]"},
    {"export", scalebits::cli::cmd_export, "write a packed model folder for an allocation (runs through the kernels)", "[--model M] (--workspace W | --analysis A (--budget BITS | --bytes N) [--scope all|linear] [--method M] [--pin|--min-bits|--max-bits MATCH=BITS,...]) [--quantizer rtn|gptq|gptq-seq] [--format packed|hf] --out DIR [--json]\n\n--model defaults to the model the analysis was made from. --workspace W: the analysis, method, budget and constraints saved by the explorer (File > Save workspace).\n\n--format hf writes the same quantized weights dequantized to fp16 as an ordinary Hugging Face folder (for transformers, vLLM, lm-eval-harness).\n\n--quantizer gptq-seq: GPTQ with each layer's Hessians measured on the analysis' calibration text with the layers below already quantized (two more passes over the calibration set; the text must still be where the analysis read it).\n\n--scope all (the default): a budget in bits per weight counts every weight of the file, the embedding and lm_head allocated too (fp16 is their top rung); --scope linear: the linear layers only, those two kept at fp16 outside the budget."},
    {"bench-solver", scalebits::cli::cmd_bench_solver, "benchmark the allocation ladder on synthetic tables", "[--tiles 500000] [--resolves 1000] [--seed S] [--json]"},
    {"bench", scalebits::cli::cmd_bench, "decode tokens/s of an exported model against its dense weights", "--model EXPORT_DIR [--steps 64] [--prompt-tokens 16] [--text FILE] [--threads N] [--json]"},
    {"bench-kernels", scalebits::cli::cmd_bench_kernels, "verify or benchmark the packed mixed-width kernels (--verify, --json)", "[--verify] [--device cpu|cuda] [--shapes NxK,...] [--bits 2,3,4,8,mixed] [--batch 1,4,16] [--group G] [--threads T] [--iters I] [--json]"},
    {"make-synthetic", scalebits::cli::cmd_make_synthetic, "write a Llama-shaped model with random weights (memory and time measurements)", "--out DIR [--hidden 1024] [--mlp 4096] [--layers 16] [--heads 16] [--kv-heads 8] [--head-dim D] [--vocab 49152] [--dtype bf16|f32] [--tied] [--seed S] [--tokenizer-json FILE] [--json]"},
    {"bench-matmul", scalebits::cli::cmd_bench_matmul, "fp32 matrix-multiply throughput of this machine (LibTorch)", "[--json]"},
};

void usage(std::FILE* to) {
    std::fprintf(to, "scalebits-cli %s - mixed-precision LLM weight quantization\n\nusage: scalebits-cli <command> [options]\n\ncommands:\n",
                 scalebits::version_string());
    for (const auto& c : kCommands) std::fprintf(to, "  %-12s %s\n", c.name, c.summary);
    std::fprintf(to, "\n`scalebits-cli COMMAND --help` lists a command's options. Commands that take --model also take\n"
                     "--tokenizer T, --device cpu|cuda and --threads N; --json gives machine-readable output.\n");
}

}  // namespace

int main(int argc, char** argv) {
    scalebits::util::relaunch_with_known_blas_core(argv);
    scalebits::util::keep_freed_memory_for_reuse();
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
        if (rest.size() == 1 && (rest[0] == "--help" || rest[0] == "-h")) {
            std::printf("%s\n\nusage: scalebits-cli %s %s\n", c.summary, c.name, c.options);
            return 0;
        }
        try {
            return c.run(rest);
        } catch (const scalebits::OptionError& e) {
            std::fprintf(stderr, "scalebits-cli %s: error: %s: %s\n", c.name, scalebits::cli::option_of(e.setting()), e.what());
            return 2;
        } catch (const scalebits::InputError& e) {
            std::fprintf(stderr, "scalebits-cli %s: error: %s\n", c.name, e.what());
            return 2;
        } catch (const scalebits::CancelledError&) {
            std::fprintf(stderr, "scalebits-cli %s: cancelled; nothing was written under the output names\n", c.name);
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
