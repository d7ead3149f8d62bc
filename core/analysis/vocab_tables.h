#pragma once
// The vocabulary matrices (embedding, untied lm_head) in an analysis (format 4): their per-weight
// Fisher becomes tables like a linear layer's, in both layouts (the reordered one permutes their
// columns by P_hidden), a chunk of rows at a time so that neither the matrix nor its Fisher is ever
// whole in memory at Llama-3-8B's size (2.1 GB each in fp32). The in-memory analysis hands the whole
// matrix as one chunk; the streamed one hands chunks of tile rows.
//
// Rows that calibration never touched: the embedding row of a token absent from the calibration
// text gets no gradient, and a zero Fisher would give its tiles zero cost, so 2 bits by accident. The
// rule: such a row is given the mean Fisher of the rows that were seen (column by column), i.e. it
// is treated as an average token. (An untied lm_head row always gets gradient through the softmax,
// and a tied matrix through its lm_head use, so the rule only ever applies to an untied embedding.)
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include <functional>

#include "core/analysis/analysis.h"
#include "core/model/checkpoint.h"
#include "core/quant/tile_spec.h"
#include "core/util/cancel.h"

namespace scalebits::analysis {

// The checkpoint name of vocabulary matrix `kind` (kEmbeddingKind or kLmHeadKind).
const char* vocab_matrix_name(int kind);
// The record of vocabulary matrix `kind` with its tile grid.
MatrixAnalysis vocab_matrix_record(const model::ModelConfig& config, int kind, const quant::TileSpec& spec);
// The vocabulary matrices a model of `config` has, in analysis order (after every linear layer):
// the embedding, then the lm_head when untied.
std::vector<int> vocab_kinds(const model::ModelConfig& config);

// Vocabulary matrices are read, quantized and written a chunk of rows at a time: whole tile rows,
// about 64 MiB in fp32 each. The record of a chunk's rows as a matrix of their own (same tile grid,
// `rows` tall).
std::int64_t vocab_chunk_rows(std::int64_t cols, std::int64_t tile_rows);
MatrixAnalysis vocab_chunk_record(const MatrixAnalysis& matrix, std::int64_t rows);

// The unseen-row rule above applied to the whole Fisher of vocabulary matrix `kind`, where it
// applies (an untied embedding).
void apply_unseen_row_rule(torch::Tensor& fisher, int kind, const model::ModelConfig& config);
// The mean of the rows of `fisher` that are not all zero ({cols}; zeros when none is).
torch::Tensor seen_rows_mean(const torch::Tensor& fisher);
// Fills every all-zero row of `fisher` ({rows, cols}) with `seen_mean` ({cols}); returns how many.
std::int64_t fill_unseen_rows(torch::Tensor& fisher, const torch::Tensor& seen_mean);

// The per-weight Fisher of vocabulary matrix `kind` of `checkpoint` for the layer-streamed analysis,
// handed to `sink` a chunk of rows at a time (with those rows of the weight, fp32, original layout).
// Per calibration sequence s the gradient of a chunk's rows is rebuilt from what the streamed passes
// kept: the lm_head use from the final hidden states h_last ({n, T, dim}, before the final norm),
// the tokens ({n, T}) and each position's log-sum-exp of the logits (lse {n, T}):
// dL_s/dlogits = (softmax - onehot(next)) / (T - 1), 0 at the last position; the lookup use from
// dL_s/dh_0 (dh0 {n, T, dim}), added to the rows of the tokens read. The untied embedding's unseen
// rows get the rule above. Equals compute_sensitivity's embedding_fisher / lm_head_fisher up to
// floating-point summation order.
using VocabChunkSink = std::function<void(std::int64_t first, const torch::Tensor& w, const torch::Tensor& fisher)>;
void vocab_fisher(const model::Checkpoint& checkpoint, int kind, const torch::Tensor& h_last, const torch::Tensor& tokens,
                  const torch::Tensor& lse, const torch::Tensor& dh0, std::int64_t tile_rows, const Progress& progress,
                  const VocabChunkSink& sink);

class VocabTablesBuilder {
public:
    // `hidden`: P_hidden (perm[new] = old) or empty; `widths` ascending.
    VocabTablesBuilder(MatrixAnalysis record, const std::vector<std::int64_t>& hidden, const std::vector<int>& widths);
    // Rows [first, first + w.size(0)) of the matrix (original layout, fp32 CPU) and their Fisher.
    // Chunks come in order and start at multiples of the tile height.
    void add_rows(std::int64_t first, const torch::Tensor& w, const torch::Tensor& fisher);
    // The record with both layouts' tables and totals; and the reordered layout's per-group costs
    // and Fisher row / column sums (stored as the matrix's cost.group, r and c).
    MatrixAnalysis finish();
    const std::vector<float>& group_costs() const { return group_; }
    std::vector<float> row_sums() const;
    std::vector<float> col_sums() const;

private:
    MatrixAnalysis m_;
    torch::Tensor hidden_;
    std::vector<int> widths_;
    std::int64_t next_ = 0;
    std::vector<float> group_;
    std::vector<double> rows_, cols_;
    double total_ = 0;
};

}  // namespace scalebits::analysis
