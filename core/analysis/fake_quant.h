#pragma once
// Applies an analysis' layout and an allocation to a full-precision model: folds the analysis'
// permutations into the weights, then replaces every quantized matrix by its fake-quantized
// (quantize + dequantize) version with the allocation's per-tile widths. The quantizers are the
// ones export uses, steered by the analysis' factored Fisher (r, c) and, for GPTQ, its Hessians (or,
// for sequential GPTQ, Hessians measured again on the partly quantized model).
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/analysis/analysis.h"
#include "core/io/safetensors.h"
#include "core/quant/quantized_matrix.h"
#include "core/model/llama.h"
#include "core/quant/error_weights.h"
#include "core/quant/tile_spec.h"
#include "core/reorder/matrix_index.h"
#include "core/util/cancel.h"

namespace scalebits::analysis {

// Rtn: round to nearest. Gptq: error compensation with the analysis' Hessians, measured on the
// full-precision model. GptqSequential: GPTQ as its paper runs it: each decoder layer's Hessians are
// measured on the analysis' calibration set with every layer below it already quantized (the layer
// itself still at full precision), so its compensation sees the error the layers below pass up
// (two forward passes over the calibration set more).
enum class Quantizer { Rtn, Gptq, GptqSequential };
Quantizer parse_quantizer(const std::string& name);  // "rtn" | "gptq" | "gptq-seq"; InputError otherwise
const char* quantizer_name(Quantizer q);

// Throws InputError unless Quantizer::GptqSequential can run on `checkpoint` for `analysis`: the same
// model, a tokenizer, and the analysis' calibration text where it was read.
void check_sequential_inputs(const Analysis& analysis, const model::Checkpoint& checkpoint);

// Permutes `model` into the analysis' reordered layout (reordered = true) or leaves it as loaded.
void apply_layout(model::LlamaModel& model, const Analysis& analysis, bool reordered);

// What one entry of the widths vector covers: a tile of the analysis' grid (every runtime-friendly
// method) or one row-group (the per-group baseline; reordered layout only).
enum class WidthGranularity { Tile, Group };

// widths: one width per tile (or per group), matrices in analysis order, row-major grids (the
// TileAllocation / GroupAllocation order). The model must already be in the layout the widths were
// solved for. In the original layout the analysis' r, c and Hessians are un-permuted.
// `checkpoint` (the model's source) is needed by Quantizer::GptqSequential only.
void fake_quantize(model::LlamaModel& model, const Analysis& analysis, const std::vector<std::uint8_t>& widths,
                   Quantizer quantizer, bool reordered, const Progress& progress = {},
                   WidthGranularity granularity = WidthGranularity::Tile, const model::Checkpoint* checkpoint = nullptr);

// Quantizes the analysis' matrices with an allocation's widths, one matrix at a time: what
// fake_quantize and export run over a whole model, and what the layer-streamed export and
// evaluation run over one layer at a time. Maps the analysis file once (r, c and the Hessians are
// read per matrix, where they lie). Throws InputError when the widths do not fit the analysis.
//
// The widths cover the linear layers' tiles, then, when the allocation was solved for the whole
// file, the vocabulary matrices' (analysis order either way). Vocabulary matrices are quantized with
// RTN whatever the quantizer (the embedding has no input for GPTQ's Hessian), and their tiles of
// width kKeptBits are kept at fp16.
//
// Quantizer::GptqSequential needs `checkpoint` (the analysed model, its tokenizer and the analysis'
// calibration text): the constructor runs the whole sequential pass (layer by layer on `device`, one
// layer resident, progress per layer) and keeps its results, about one byte per linear weight, which
// quantize() then hands out. Other quantizers work per matrix on demand and ignore the three.
class MatrixQuantizer {
public:
    MatrixQuantizer(const Analysis& analysis, const std::vector<std::uint8_t>& widths, Quantizer quantizer,
                    bool reordered, WidthGranularity granularity = WidthGranularity::Tile,
                    const model::Checkpoint* checkpoint = nullptr, torch::Device device = torch::kCPU,
                    const Progress& progress = {});
    // The widths include the vocabulary matrices'.
    bool covers_vocab() const { return covers_vocab_; }
    // Analysis index of vocabulary matrix `kind` (kEmbeddingKind, kLmHeadKind), -1 when the widths
    // do not cover it or the model has none.
    std::ptrdiff_t vocab_matrix(int kind) const;

    // Quantizes matrix `index` of the analysis; `w` is its weight in the widths' layout.
    quant::QuantizedMatrix quantize(std::size_t index, const torch::Tensor& w) const;
    // Rows [first, first + w.size(0)) of vocabulary matrix `index` (first a multiple of the tile
    // height): RTN works row by row, so a matrix of 128K tokens is quantized a chunk at a time with
    // the result the whole matrix would give.
    quant::QuantizedMatrix quantize_rows(std::size_t index, std::int64_t first, const torch::Tensor& w) const;
    // The same for rows [first, first + count) read from `source`, the checkpoint's tensor of that
    // matrix (original column order): read, put in the widths' column order, quantized.
    quant::QuantizedMatrix quantize_vocab_rows(std::size_t index, const io::HostTensor& source, std::int64_t first,
                                               std::int64_t count) const;
    // The analysis' indices of layer `layer`'s seven matrices, in LinearKind order.
    const std::array<std::size_t, model::kLinearKinds>& layer_matrices(int layer) const;
    // Replaces every matrix of `layer` (decoder layer `index`, in the widths' layout) by its
    // fake-quantized version (quantize + dequantize). Checks `progress` before each matrix.
    void fake_quantize_layer(model::DecoderLayer& layer, int index, const Progress& progress = {}) const;
    const Analysis& analysis() const { return a_; }
    Quantizer quantizer() const { return quantizer_; }
    bool reordered() const { return reordered_; }

private:
    // The layout, widths and clip-search weights of rows [first, first + rows) of matrix `index`.
    struct Target {
        MatrixAnalysis matrix;
        quant::TileSpec spec;
        torch::Tensor grid;
        quant::ErrorWeights weights;
        reorder::MatrixIndex index;  // where the analysis' statistics move in the original layout
    };
    Target target(std::size_t index, std::int64_t first, std::int64_t rows, torch::Device device) const;
    torch::Tensor stored_hessian(const Target& t) const;
    // Quantizer::GptqSequential's pass (sequential_gptq.cpp): fills sequential_.
    void run_sequential(const model::Checkpoint& checkpoint, torch::Device device, const Progress& progress);

    const Analysis& a_;
    std::vector<std::uint8_t> widths_;
    Quantizer quantizer_;
    bool reordered_;
    WidthGranularity granularity_;
    io::SafetensorsFile file_;
    std::vector<std::size_t> offsets_;  // first width of each matrix
    bool covers_vocab_ = false;
    std::vector<std::array<std::size_t, model::kLinearKinds>> by_layer_;
    std::vector<quant::QuantizedMatrix> sequential_;  // by analysis index, linear matrices only
};

// The pass fake_quantize runs over the linear layers: quantizes every linear matrix of `model`
// (already in the widths' layout) and hands each result to `sink`, in analysis order.
using QuantizedMatrixSink = std::function<void(const MatrixAnalysis& matrix, quant::QuantizedMatrix&& q)>;
void quantize_matrices(const model::LlamaModel& model, const MatrixQuantizer& quantizer, const QuantizedMatrixSink& sink,
                       const Progress& progress = {});

// Every tile of every matrix at `bits`.
std::vector<std::uint8_t> uniform_tile_widths(const Analysis& analysis, int bits);

}  // namespace scalebits::analysis
