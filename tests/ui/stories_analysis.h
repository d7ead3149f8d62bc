#pragma once
// The small real analysis the explorer's job tests open: stories260K, 4 x 64 calibration tokens,
// 32x32 tiles, groups of 16, saved to `file`.
#include <filesystem>
#include <memory>

#include "core/analysis/analyze.h"
#include "core/model/checkpoint.h"
#include "core/model/llama.h"

namespace scalebits::testing {

inline std::shared_ptr<const analysis::Analysis> stories_analysis(const std::filesystem::path& file) {
    const std::filesystem::path data = SCALEBITS_SHARED_DATA;
    const auto ckpt = model::load_checkpoint(data / "stories260K" / "stories260K.bin", data / "stories260K" / "tok512.bin");
    model::LlamaModel m(ckpt);
    analysis::AnalysisOptions o;
    o.calib_text = data / "c4" / "c4-sample.utf8";
    o.samples = 4;
    o.seq_len = 64;
    o.tile_rows = o.tile_cols = 32;
    o.group = 16;
    return std::make_shared<const analysis::Analysis>(analysis::analyze(ckpt, m, o, file));
}

}  // namespace scalebits::testing
