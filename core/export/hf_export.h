#pragma once
// export --format hf: the allocation's quantized weights, dequantized to fp16, as an ordinary Hugging
// Face folder (config.json of the source's family without a quantization block, the tokenizer,
// model.safetensors in fp16 with metadata {"format": "pt"}), so that transformers, vLLM or
// lm-eval-harness score exactly the weights the packed export holds. Permutations are folded in
// (the model computes the same function). Layer by layer, like the packed export (export.h).
#include <filesystem>

#include "core/export/export.h"

namespace scalebits::exporting {

// Throws like export_model. A GGUF source has no tokenizer.json: its vocabulary is written as
// tokenizer.gguf (this tool reads it; transformers needs the source model's own tokenizer files).
ExportResult export_hf(const model::Checkpoint& checkpoint, const analysis::Analysis& analysis,
                       const analysis::Allocation& allocation, analysis::Quantizer quantizer,
                       const std::filesystem::path& out_dir, const ExportInfo& info = {}, const Progress& progress = {});

}  // namespace scalebits::exporting
