#include "core/analysis/vocab_tables.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "core/analysis/matrix_tables.h"
#include "core/model/llama.h"
#include "core/util/error.h"

namespace scalebits::analysis {

const char* vocab_matrix_name(int kind) { return kind == kEmbeddingKind ? "model.embed_tokens.weight" : "lm_head.weight"; }

MatrixAnalysis vocab_matrix_record(const model::ModelConfig& c, int kind, const quant::TileSpec& spec) {
    return matrix_record(vocab_matrix_name(kind), -1, kind, c.vocab_size, c.dim, spec);
}

std::int64_t vocab_chunk_rows(std::int64_t cols, std::int64_t tile_rows) {
    return std::max<std::int64_t>(1, (std::int64_t(16) << 20) / std::max<std::int64_t>(1, cols) / tile_rows) * tile_rows;
}

MatrixAnalysis vocab_chunk_record(const MatrixAnalysis& m, std::int64_t rows) {
    MatrixAnalysis chunk = m;
    chunk.grid.rows = static_cast<std::size_t>(std::max<std::int64_t>(rows, 0));
    return chunk;
}

void apply_unseen_row_rule(torch::Tensor& fisher, int kind, const model::ModelConfig& c) {
    if (kind == kEmbeddingKind && !c.tie_word_embeddings) fill_unseen_rows(fisher, seen_rows_mean(fisher));
}

std::vector<int> vocab_kinds(const model::ModelConfig& c) {
    if (c.tie_word_embeddings) return {kEmbeddingKind};
    return {kEmbeddingKind, kLmHeadKind};
}

torch::Tensor seen_rows_mean(const torch::Tensor& fisher) {
    torch::NoGradGuard no_grad;
    const torch::Tensor seen = fisher.sum(1) != 0;
    const std::int64_t n = seen.sum().item<std::int64_t>();
    const torch::Tensor sum = fisher.sum(0, false, torch::kDouble);
    return (n > 0 ? sum / static_cast<double>(n) : sum).to(torch::kFloat);
}

std::int64_t fill_unseen_rows(torch::Tensor& fisher, const torch::Tensor& seen_mean) {
    torch::NoGradGuard no_grad;
    const torch::Tensor unseen = fisher.sum(1) == 0;
    const std::int64_t n = unseen.sum().item<std::int64_t>();
    if (n > 0) fisher.index_put_({unseen}, seen_mean.to(fisher.dtype()).unsqueeze(0).expand({n, fisher.size(1)}));
    return n;
}

void vocab_fisher(const model::Checkpoint& ckpt, int kind, const torch::Tensor& h_last, const torch::Tensor& tokens,
                  const torch::Tensor& lse, const torch::Tensor& dh0, std::int64_t tile_rows, const Progress& progress,
                  const VocabChunkSink& sink) {
    torch::NoGradGuard no_grad;
    const model::ModelConfig& c = ckpt.config;
    const bool head_use = kind == kLmHeadKind || c.tie_word_embeddings;
    const bool lookup_use = kind == kEmbeddingKind;
    const io::HostTensor& weight = ckpt.tensor(vocab_matrix_name(kind));
    const std::int64_t n = h_last.size(0), T = h_last.size(1), dim = c.dim, vocab = c.vocab_size;
    const std::int64_t chunk = vocab_chunk_rows(dim, tile_rows);
    const torch::Tensor ids = tokens.to(torch::kCPU, torch::kLong).contiguous();
    torch::Tensor hn;
    if (head_use) {
        torch::Tensor norm_w = torch::empty({dim}, torch::kFloat);
        ckpt.tensor("model.norm.weight").rows_to_float(0, dim, norm_w.data_ptr<float>());
        hn = model::rms_norm(h_last.to(torch::kCPU, torch::kFloat), norm_w, c.rms_norm_eps);
    }
    const torch::Tensor g0 = lookup_use ? dh0.to(torch::kCPU, torch::kFloat) : torch::Tensor();

    // The lookup's gradient of rows [first, first + rows) for sequence s, added to g.
    auto add_lookup = [&](std::int64_t s, std::int64_t first, std::int64_t rows, torch::Tensor& g) {
        const torch::Tensor tok = ids[s];
        const torch::Tensor in = (tok >= first).logical_and(tok < first + rows).nonzero().squeeze(1);
        if (in.numel() > 0) g.index_add_(0, tok.index_select(0, in) - first, g0[s].index_select(0, in));
    };
    auto chunk_fisher = [&](std::int64_t first, std::int64_t rows, const torch::Tensor& w) {
        torch::Tensor f = torch::zeros({rows, dim}, torch::kFloat);
        for (std::int64_t s = 0; s < n; ++s) {
            progress.check();
            torch::Tensor g = torch::zeros({rows, dim}, torch::kFloat);
            if (head_use) {
                // dL_s/dlogits of these rows: softmax from the stored log-sum-exp, minus the one-hot of the
                // next token, over the T - 1 predicted positions.
                torch::Tensor d = (torch::matmul(hn[s], w.t()) - lse[s].unsqueeze(1)).exp_();
                d.narrow(0, T - 1, 1).zero_();
                const torch::Tensor next = ids[s].narrow(0, 1, T - 1);
                const torch::Tensor in = (next >= first).logical_and(next < first + rows).nonzero().squeeze(1);
                if (in.numel() > 0) d.index_put_({in, next.index_select(0, in) - first}, d.index({in, next.index_select(0, in) - first}) - 1.0f);
                d.div_(static_cast<double>(T - 1));
                g.addmm_(d.t(), hn[s]);
            }
            if (lookup_use) add_lookup(s, first, rows, g);
            f.addcmul_(g, g);
        }
        return f;
    };

    // An untied embedding: first the mean of the rows calibration reached (its Fisher is the lookup's
    // alone, cheap to build twice), then each chunk with its unseen rows filled.
    torch::Tensor seen_mean;
    if (lookup_use && !head_use) {
        torch::Tensor sum = torch::zeros({dim}, torch::kDouble);
        std::int64_t seen = 0;
        for (std::int64_t first = 0; first < vocab; first += chunk) {
            const std::int64_t rows = std::min(chunk, vocab - first);
            const torch::Tensor f = chunk_fisher(first, rows, torch::Tensor());
            sum += f.sum(0, false, torch::kDouble);
            seen += (f.sum(1) != 0).sum().item<std::int64_t>();
        }
        seen_mean = (seen > 0 ? sum / static_cast<double>(seen) : sum).to(torch::kFloat);
    }
    torch::Tensor w = torch::empty({chunk, dim}, torch::kFloat);
    for (std::int64_t first = 0; first < vocab; first += chunk) {
        const std::int64_t rows = std::min(chunk, vocab - first);
        torch::Tensor wr = w.narrow(0, 0, rows);
        weight.rows_to_float(first, rows, wr.data_ptr<float>());
        torch::Tensor f = chunk_fisher(first, rows, wr);
        if (seen_mean.defined()) fill_unseen_rows(f, seen_mean);
        sink(first, wr, f);
    }
    weight.release_pages();
}

VocabTablesBuilder::VocabTablesBuilder(MatrixAnalysis record, const std::vector<std::int64_t>& hidden,
                                       const std::vector<int>& widths)
    : m_(std::move(record)), widths_(widths), rows_(static_cast<std::size_t>(m_.rows()), 0.0),
      cols_(static_cast<std::size_t>(m_.cols()), 0.0) {
    if (!hidden.empty()) hidden_ = torch::tensor(hidden, torch::kLong);
}

void VocabTablesBuilder::add_rows(std::int64_t first, const torch::Tensor& w, const torch::Tensor& fisher) {
    torch::NoGradGuard no_grad;
    if (first != next_ || (first % m_.tile_rows() != 0) || w.sizes() != fisher.sizes() || w.size(1) != m_.cols() ||
        first + w.size(0) > m_.rows())
        throw std::logic_error("vocabulary tables: rows handed out of order or of the wrong shape");
    next_ = first + w.size(0);
    const quant::TileSpec spec{m_.tile_rows(), m_.tile_cols(), m_.group()};
    const torch::Tensor f = fisher.to(torch::kCPU, torch::kFloat).contiguous();
    const torch::Tensor x = w.to(torch::kCPU, torch::kFloat).contiguous();
    // Original layout, then the reordered one (columns by P_hidden). Tile rows are whole in a chunk,
    // so each chunk's tables are consecutive rows of the whole matrix's.
    MatrixTables o = matrix_tables(x, f, spec, widths_);
    m_.cost_original.insert(m_.cost_original.end(), o.cost.begin(), o.cost.end());
    m_.fisher_original.insert(m_.fisher_original.end(), o.fisher.begin(), o.fisher.end());
    const torch::Tensor fr = hidden_.defined() ? f.index_select(1, hidden_) : f;
    const torch::Tensor xr = hidden_.defined() ? x.index_select(1, hidden_) : x;
    MatrixTables r = matrix_tables(xr, fr, spec, widths_);
    m_.cost_reordered.insert(m_.cost_reordered.end(), r.cost.begin(), r.cost.end());
    m_.fisher_reordered.insert(m_.fisher_reordered.end(), r.fisher.begin(), r.fisher.end());
    group_.insert(group_.end(), r.group_cost.begin(), r.group_cost.end());
    const torch::Tensor rs = fr.sum(1, false, torch::kDouble).contiguous(), cs = fr.sum(0, false, torch::kDouble).contiguous();
    for (std::int64_t i = 0; i < rs.size(0); ++i) rows_[static_cast<std::size_t>(first + i)] = rs.data_ptr<double>()[i];
    for (std::int64_t j = 0; j < cs.size(0); ++j) cols_[static_cast<std::size_t>(j)] += cs.data_ptr<double>()[j];
    total_ += rs.sum().item<double>();
}

MatrixAnalysis VocabTablesBuilder::finish() {
    if (next_ != m_.rows()) throw std::logic_error("vocabulary tables: not every row was handed over");
    m_.fisher_total = total_;
    m_.top10_share_before = top_share(m_.fisher_original);
    m_.top10_share_after = top_share(m_.fisher_reordered);
    // No factored form is measured for them (their "inputs" are token ids or the final hidden state).
    m_.factored_corr = m_.factored_log_corr = std::nan("");
    return m_;
}

std::vector<float> VocabTablesBuilder::row_sums() const { return {rows_.begin(), rows_.end()}; }
std::vector<float> VocabTablesBuilder::col_sums() const { return {cols_.begin(), cols_.end()}; }

}  // namespace scalebits::analysis
