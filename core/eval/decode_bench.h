#pragma once
// Decode throughput: a prompt of `prompt_tokens` real tokens is prefilled, then `steps` tokens are
// generated one at a time with the KV cache (greedy), the batch-1 regime in which weight bytes
// dominate. The share of the decode time spent inside the linear layers is measured with the
// model's linear observers (called just before and just after every product).
#include <array>
#include <cstdint>
#include <vector>

#include "core/model/llama.h"
#include "core/runtime/packed_decoder.h"
#include "core/util/cancel.h"

namespace scalebits::eval {

struct DecodeBenchResult {
    std::int64_t steps = 0;
    double seconds = 0.0;        // decode steps only (prefill excluded)
    double tokens_per_s = 0.0;
    double linear_share = 0.0;   // of the decode time, inside the 7 linear layers of every block
    std::array<double, model::kLinearKinds> kind_seconds{};  // decode time per matrix kind (q, k, ..., down)
    double prefill_seconds = 0.0;
};

// The packed decode engine of an export, the same protocol (no per-kind times: the engine has no
// observers). Its KV cache must hold prompt + steps positions; it is reset first.
DecodeBenchResult bench_decode(runtime::PackedDecoder& decoder, const std::vector<std::int32_t>& prompt, std::int64_t steps,
                               const Progress& progress = {});

// `prompt`: at least one token id. The model's observers are replaced during the run and cleared
// afterwards.
DecodeBenchResult bench_decode(model::LlamaModel& model, const std::vector<std::int32_t>& prompt, std::int64_t steps,
                               const Progress& progress = {});

}  // namespace scalebits::eval
