#pragma once
// Shared by the calibration and reordering tests: the real stories260K model, real text, and
// tolerant tensor comparisons.
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/analysis/analyze.h"
#include "core/eval/text.h"
#include "core/model/checkpoint.h"
#include "core/model/llama.h"

namespace scalebits::testing {

inline const std::filesystem::path kData = SCALEBITS_SHARED_DATA;
inline const std::filesystem::path kStoriesBin = kData / "stories260K" / "stories260K.bin";
inline const std::filesystem::path kStoriesTok = kData / "stories260K" / "tok512.bin";
inline const std::filesystem::path kWiki = kData / "wikitext-2-raw" / "wiki.test.raw";
inline const std::filesystem::path kC4 = kData / "c4" / "c4-sample.utf8";
inline const std::filesystem::path kSmolGguf =
    std::filesystem::path(SCALEBITS_MODEL_CACHE) / "SmolLM2-135M-Instruct.Q4_1.gguf";

inline const model::Checkpoint& stories_checkpoint() {
    static const model::Checkpoint ckpt = model::load_checkpoint(kStoriesBin, kStoriesTok);
    return ckpt;
}

inline std::unique_ptr<model::LlamaModel> stories_model() {
    return std::make_unique<model::LlamaModel>(stories_checkpoint());
}

// A small analysis of stories260K (8 x 64 C4 tokens) with the given tile shape and group, saved to `out`.
inline analysis::Analysis stories_analysis(const std::filesystem::path& out, std::int64_t tile_rows,
                                           std::int64_t tile_cols, std::int64_t group) {
    analysis::AnalysisOptions o;
    o.calib_text = kC4;
    o.samples = 8;
    o.seq_len = 64;
    o.tile_rows = tile_rows;
    o.tile_cols = tile_cols;
    o.group = group;
    auto model = stories_model();
    return analysis::analyze(stories_checkpoint(), *model, o, out);
}

// `rows` windows of `len` tokens of real text (the first bytes of `file`), {rows, len} int64.
inline torch::Tensor text_batch(const tokenizer::Tokenizer& tok, const std::filesystem::path& file, std::int64_t rows,
                                std::int64_t len, std::int64_t skip_tokens = 0) {
    const auto ids = eval::tokenize_text(tok, eval::read_text(file, 400000));
    const auto need = static_cast<std::size_t>(skip_tokens + rows * len);
    if (ids.size() < need) throw std::runtime_error("test text too short");
    std::vector<std::int64_t> v(ids.begin() + skip_tokens, ids.begin() + static_cast<std::ptrdiff_t>(need));
    return torch::tensor(v, torch::kLong).view({rows, len});
}

// max |a - b| / max |b|: the relative difference used for "same logits" and "same statistics".
inline double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
    const auto x = a.detach().to(torch::kCPU, torch::kDouble), y = b.detach().to(torch::kCPU, torch::kDouble);
    const double scale = y.abs().max().item<double>();
    return (x - y).abs().max().item<double>() / (scale > 0 ? scale : 1.0);
}

}  // namespace scalebits::testing
