#pragma once
// Latency of an exported model on this machine, in one run: batch-1 decode on the native decode
// engine (core/runtime/packed_decoder.h), on the LibTorch path with the packed kernels (with the time
// per matrix kind), and with the same weights dense in fp32; the weight bytes one step reads and a
// plain read of memory measured beside them give the bandwidth limit. Saved as latency_report.json
// beside the export by the export dialog; printed by `scalebits-cli bench`.
#include <cstdint>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/eval/decode_bench.h"
#include "core/util/cancel.h"

namespace scalebits::exporting {

struct LatencyReport {
    std::string device = "cpu";
    std::int64_t prompt_tokens = 0;
    eval::DecodeBenchResult native, packed, dense;  // packed: the LibTorch path with the packed kernels
    std::uint64_t native_bytes_per_token = 0;       // weights the engine reads per step
    double read_bandwidth_gbps = 0.0;               // plain multi-threaded read, measured in the same run
    // Tokens per second the engine could reach if reading its weights were all a step cost.
    double bandwidth_limit_tokens_per_s() const {
        return native_bytes_per_token ? read_bandwidth_gbps * 1e9 / static_cast<double>(native_bytes_per_token) : 0.0;
    }
    std::int64_t packed_weight_bytes = 0;  // packed tiles + tile headers of the linear layers
    std::int64_t dense_weight_bytes = 0;   // the same matrices in fp32
    double speedup() const { return native.tokens_per_s / dense.tokens_per_s; }  // native engine over dense
    nlohmann::json to_json() const;
};

// `prompt_text`: the first `prompt_tokens` tokens of this file are the prompt. Throws InputError when
// `export_dir` is not an exported model.
LatencyReport measure_latency(const std::filesystem::path& export_dir, const std::filesystem::path& prompt_text,
                              std::int64_t prompt_tokens = 16, std::int64_t steps = 64, const Progress& progress = {});

// Atomically writes report.to_json() to `path`.
void save_latency_report(const LatencyReport& report, const std::filesystem::path& path);

}  // namespace scalebits::exporting
