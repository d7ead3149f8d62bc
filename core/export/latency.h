#pragma once
// Latency of an exported model on this machine: batch-1 decode with the packed weights (through the
// kernels) against the same weights dense, in one run, with the time per matrix kind. Saved as
// latency_report.json beside the export by the export dialog; printed by `scalebits-cli bench`.
#include <cstdint>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/eval/decode_bench.h"
#include "core/util/cancel.h"

namespace scalebits::exporting {

struct LatencyReport {
    std::string device = "cpu";
    std::int64_t prompt_tokens = 0;
    eval::DecodeBenchResult packed, dense;
    std::int64_t packed_weight_bytes = 0;  // packed tiles + tile headers of the linear layers
    std::int64_t dense_weight_bytes = 0;   // the same matrices in fp32
    double speedup() const { return packed.tokens_per_s / dense.tokens_per_s; }
    nlohmann::json to_json() const;
};

// `prompt_text`: the first `prompt_tokens` tokens of this file are the prompt. Throws InputError when
// `export_dir` is not an exported model.
LatencyReport measure_latency(const std::filesystem::path& export_dir, const std::filesystem::path& prompt_text,
                              std::int64_t prompt_tokens = 16, std::int64_t steps = 64, const Progress& progress = {});

// Atomically writes report.to_json() to `path`.
void save_latency_report(const LatencyReport& report, const std::filesystem::path& path);

}  // namespace scalebits::exporting
