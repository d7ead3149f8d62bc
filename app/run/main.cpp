// scalebits-run: text generation with an exported model on the decode engine alone, without
// LibTorch or the explorer's libraries, so a decode takes the mapped model file, the KV cache and
// little else (what a deployment of the export would hold). Parses arguments, runs the engine,
// prints the text and what the run took; errors exit 2 with one line, as scalebits-cli does.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/common/args.h"
#include "app/common/generate_options.h"
#include "app/common/interrupt.h"
#include "app/common/option_names.h"
#include "app/common/peak_rss.h"
#include "core/eval/generate.h"
#include "core/model/checkpoint.h"
#include "core/runtime/packed_decoder.h"
#include "core/util/error.h"
#include "core/util/option_error.h"
#include "core/util/version.h"

namespace {

using namespace scalebits;
namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: scalebits-run --model EXPORT_DIR [--tokenizer T] [--prompt TEXT] [--steps N]\n"
    "                     [--greedy | --temperature T [--top-k K] [--top-p P] [--seed S]] [--no-bos] [--json]\n"
    "\n"
    "Generates text with a model written by `scalebits-cli export` on its decode engine. Prints the text\n"
    "as it comes, then (on stderr, or in the JSON) the prompt and decode speed, the model file, the KV\n"
    "cache and the peak memory of the process.\n";

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int run(const std::vector<std::string>& argv) {
    auto valued = cli::kGenerateOptions;
    valued.insert({"model", "tokenizer"});
    auto flags = cli::kGenerateFlags;
    flags.insert("json");
    const cli::Args args(argv, valued, flags);
    const auto t_load = std::chrono::steady_clock::now();
    const auto tokenizer = args.get("tokenizer");
    const model::Checkpoint ckpt = model::load_checkpoint(
        args.require("model"), tokenizer ? std::optional<fs::path>(*tokenizer) : std::nullopt);
    if (ckpt.packed.empty())
        throw InputError(ckpt.path, "is not an exported (packed) model; scalebits-run runs what `scalebits-cli export` "
                                    "writes (scalebits-cli generate runs any checkpoint)");
    if (!ckpt.tokenizer) throw InputError(ckpt.path, "no tokenizer found for this model; pass --tokenizer FILE");
    const eval::GenerateOptions o = cli::generate_options(args, ckpt);
    const std::int64_t positions = cli::generate_positions(o, ckpt);
    runtime::PackedDecoder decoder(ckpt, positions);
    const double load_s = seconds_since(t_load);

    // The prompt is one call of several tokens, each generated token one call of one.
    double prompt_s = 0, decode_s = 0;
    std::int64_t prompt_n = 0, decode_n = 0;
    const CancelToken& cancel = cli::interrupt_token();
    const eval::NextLogits steps = [&](const std::int32_t* t, std::int64_t n) {
        const auto t0 = std::chrono::steady_clock::now();
        const float* logits = decoder.forward(t, n);
        (n > 1 ? prompt_s : decode_s) += seconds_since(t0);
        (n > 1 ? prompt_n : decode_n) += n;
        return logits;
    };
    Progress progress;
    progress.token = &cancel;
    const bool json = args.flag("json");
    const auto r = eval::generate(
        steps, ckpt.config.vocab_size, positions, *ckpt.tokenizer, args.get_or("prompt", ""), o,
        [json](const std::string& piece) {
            if (!json) std::cout << piece << std::flush;
        },
        progress);

    std::uint64_t file_bytes = 0;
    for (const auto& e : fs::directory_iterator(ckpt.path))
        if (e.is_regular_file() && e.path().extension() == ".safetensors") file_bytes += e.file_size();
    const double prompt_tps = prompt_s > 0 ? static_cast<double>(prompt_n) / prompt_s : 0.0;
    const double decode_tps = decode_s > 0 ? static_cast<double>(decode_n) / decode_s : 0.0;
    if (json) {
        const nlohmann::json j = {{"text", r.text},
                                  {"prompt_tokens", r.prompt_tokens},
                                  {"tokens", r.tokens},
                                  {"load_s", load_s},
                                  {"prompt_tokens_per_s", prompt_tps},
                                  {"decode_steps", decode_n},
                                  {"tokens_per_s", decode_tps},
                                  {"weight_bytes_per_token", decoder.weight_bytes_per_token()},
                                  {"model_file_bytes", file_bytes},
                                  {"kv_cache_bytes", decoder.kv_cache_bytes()},
                                  {"peak_rss_mb", cli::peak_rss_mb()}};
        std::cout << j.dump(2) << std::endl;
    } else {
        std::cout << "\n" << std::flush;
        std::fprintf(stderr,
                     "prompt: %lld tokens, %.1f tokens/s; decode: %lld tokens, %.1f tokens/s\n"
                     "model file %.1f MiB, KV cache %.1f MiB, peak memory %.1f MiB\n",
                     static_cast<long long>(prompt_n), prompt_tps, static_cast<long long>(decode_n), decode_tps,
                     static_cast<double>(file_bytes) / 1048576.0, static_cast<double>(decoder.kv_cache_bytes()) / 1048576.0,
                     cli::peak_rss_mb());
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> rest(argv + 1, argv + argc);
    if (rest.size() == 1 && (rest[0] == "--help" || rest[0] == "-h")) {
        std::printf("%s", kUsage);
        return 0;
    }
    if (rest.size() == 1 && rest[0] == "--version") {
        std::printf("scalebits-run %s\n", version_string());
        return 0;
    }
    try {
        return run(rest);
    } catch (const OptionError& e) {
        std::fprintf(stderr, "scalebits-run: error: %s: %s\n", cli::option_of(e.setting()), e.what());
    } catch (const InputError& e) {
        std::fprintf(stderr, "scalebits-run: error: %s\n", e.what());
    } catch (const CancelledError&) {
        std::fprintf(stderr, "scalebits-run: stopped\n");
        return 130;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "scalebits-run: error: out of memory\n");
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "scalebits-run: internal error: %s\n", e.what());
        return 1;
    }
    return 2;
}
