#pragma once
// The pieces both export formats share (export.h: the packed folder; hf_export.h: the dequantized
// Hugging Face folder): the scratch folder beside the output, the layer loop that quantizes one
// decoder layer at a time into it, the two ends of the model (embedding, final norm, lm_head, in the
// hidden permutation) and the tokenizer files. Internal to core/export.
#include <torch/types.h>

#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/analysis/allocation.h"
#include "core/analysis/fake_quant.h"
#include "core/model/checkpoint.h"
#include "core/reorder/permutations.h"
#include "core/util/cancel.h"

namespace scalebits::exporting::detail {

using Piece = std::vector<std::pair<std::string, torch::Tensor>>;

// A hidden sibling of the output folder (same disk, never inside what is published), removed on
// every exit: one piece per layer and one for the two ends of the model.
class ScratchFolder {
public:
    explicit ScratchFolder(const std::filesystem::path& out_dir);
    ~ScratchFolder();
    ScratchFolder(const ScratchFolder&) = delete;
    ScratchFolder& operator=(const ScratchFolder&) = delete;
    const std::filesystem::path& dir() const { return dir_; }
    // Layer `layer`'s piece; -1: the embedding, final norm and lm_head.
    std::filesystem::path part(int layer) const;

private:
    std::filesystem::path dir_;
};

// What a format stores for one quantized matrix (appended to its layer's piece).
using MatrixWriter = std::function<void(const analysis::MatrixAnalysis& matrix, quant::QuantizedMatrix&& q, Piece& piece)>;

// Every decoder layer loaded in fp32, folded into `perms`, its matrices quantized by `quantizer` and
// handed to `write`, its norms and biases added as `small` (F32 or F16); one piece per layer.
// Progress: units [0, n_layers) of `units`.
void write_layer_pieces(const model::Checkpoint& checkpoint, const analysis::MatrixQuantizer& quantizer,
                        const reorder::Permutations& perms, const ScratchFolder& scratch, const MatrixWriter& write,
                        torch::ScalarType small, double units, const Progress& progress);

// What a format stores for a chunk of rows of a quantized vocabulary matrix (rows [first, first +
// chunk.rows) of `matrix`; `chunk` is the record of those rows as a matrix of their own).
using VocabChunkWriter = std::function<void(const analysis::MatrixAnalysis& matrix, const analysis::MatrixAnalysis& chunk,
                                            std::int64_t first, quant::QuantizedMatrix&& q)>;

// The final norm (as `small`), and the embedding and an untied lm_head in the hidden permutation: F16
// tensors when the allocation does not cover them, else quantized (a chunk of tile rows at a time,
// handed to `write_vocab`, which adds its tensors to `piece`). Writes the piece to `file`.
void write_model_ends(const model::Checkpoint& checkpoint, const analysis::MatrixQuantizer& quantizer,
                      const reorder::Permutations& perms, const std::filesystem::path& file, torch::ScalarType small,
                      const VocabChunkWriter& write_vocab, Piece& piece, const Progress& progress);

// The tokenizer files of the source beside the model (tokenizer.gguf / .json / .bin, and
// tokenizer_config.json next to a tokenizer.json). With `hugging_face`, a GGUF source's byte-level
// BPE vocabulary is written as tokenizer.json + tokenizer_config.json instead (hf_tokenizer_files.h),
// so the folder loads as an ordinary one; SentencePiece GGUF vocabularies stay tokenizer.gguf.
void write_tokenizer(const model::Checkpoint& checkpoint, const std::filesystem::path& dir, bool hugging_face = false);

}  // namespace scalebits::exporting::detail
