#include "core/export/latency.h"

#include "core/eval/text.h"
#include "core/io/atomic_file.h"
#include "core/model/checkpoint.h"
#include "core/model/llama.h"
#include "core/runtime/packed_decoder.h"

#include <scalebits/kernels.h>

#include <algorithm>
#include "core/util/error.h"

namespace scalebits::exporting {

namespace {
nlohmann::json bench_json(const eval::DecodeBenchResult& r, std::int64_t weight_bytes) {
    nlohmann::json kinds = nlohmann::json::object();
    for (int k = 0; k < model::kLinearKinds; ++k)
        kinds[model::linear_kind_name(static_cast<model::LinearKind>(k))] =
            r.kind_seconds[static_cast<std::size_t>(k)] / static_cast<double>(r.steps) * 1e6;
    return {{"tokens_per_s", r.tokens_per_s},
            {"linear_share", r.linear_share},
            {"linear_weight_bytes", weight_bytes},
            {"us_per_token_by_matrix_kind", kinds}};
}
}  // namespace

nlohmann::json LatencyReport::to_json() const {
    return {{"device", device},
            {"batch", 1},
            {"prompt_tokens", prompt_tokens},
            {"steps", packed.steps},
            {"native", {{"tokens_per_s", native.tokens_per_s},
                        {"prompt_tokens_per_s", native.prefill_seconds > 0 ? static_cast<double>(prompt_tokens) / native.prefill_seconds : 0.0},
                        {"weight_bytes_per_token", native_bytes_per_token},
                        {"bandwidth_limit_tokens_per_s", bandwidth_limit_tokens_per_s()},
                        {"share_of_limit", bandwidth_limit_tokens_per_s() > 0 ? native.tokens_per_s / bandwidth_limit_tokens_per_s() : 0.0}}},
            {"read_bandwidth_gbps", read_bandwidth_gbps},
            {"packed", bench_json(packed, packed_weight_bytes)},
            {"dense_fp32", bench_json(dense, dense_weight_bytes)},
            {"speedup", speedup()}};
}

LatencyReport measure_latency(const std::filesystem::path& dir, const std::filesystem::path& prompt_text,
                              std::int64_t prompt_tokens, std::int64_t steps, const Progress& progress) {
    const model::Checkpoint ckpt = model::load_checkpoint(dir);
    if (ckpt.packed.empty())
        throw InputError(dir, "is not an exported (packed) model; export one with `scalebits-cli export`");
    if (!ckpt.tokenizer) throw InputError(dir, "has no tokenizer to make the prompt with");
    auto prompt = eval::tokenize_text(*ckpt.tokenizer, eval::read_text(prompt_text, 20000));
    if (static_cast<std::int64_t>(prompt.size()) > prompt_tokens) prompt.resize(static_cast<std::size_t>(prompt_tokens));
    LatencyReport r;
    r.prompt_tokens = static_cast<std::int64_t>(prompt.size());
    for (const auto& [name, p] : ckpt.packed) {
        r.packed_weight_bytes += static_cast<std::int64_t>(p.view.data_bytes + 9 * p.view.grid.tile_count());
        r.dense_weight_bytes += static_cast<std::int64_t>(p.view.grid.rows * p.view.grid.cols * 4);
    }
    // Each model runs a few warm-up steps first (page faults of the mapped file, allocator).
    {
        runtime::PackedDecoder decoder(ckpt, r.prompt_tokens + std::max<std::int64_t>(steps, 4));
        eval::bench_decode(decoder, prompt, 4);
        r.native = eval::bench_decode(decoder, prompt, steps, progress);
        r.native_bytes_per_token = decoder.weight_bytes_per_token();
        // The read limit, measured now (a shared host's bandwidth drifts): a buffer of 4x the
        // weights (at least 256 MiB) so that caches do not hold it.
        r.read_bandwidth_gbps = kernels::cpu_read_bandwidth_gbps(
            std::max<std::size_t>(std::size_t(256) << 20, 4 * r.native_bytes_per_token), 0, 5);
    }
    model::LlamaModel packed(ckpt);
    eval::bench_decode(packed, prompt, 4);
    r.packed = eval::bench_decode(packed, prompt, steps, progress);
    model::LlamaModel dense(model::dequantized_copy(ckpt));
    eval::bench_decode(dense, prompt, 4);
    r.dense = eval::bench_decode(dense, prompt, steps, progress);
    return r;
}

void save_latency_report(const LatencyReport& report, const std::filesystem::path& path) {
    io::write_file_atomic(path, report.to_json().dump(2) + "\n");
}

}  // namespace scalebits::exporting
