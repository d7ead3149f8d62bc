#include "core/analysis/quantized_stream.h"

#include <torch/torch.h>

#include <chrono>

#include "core/analysis/vocab_tables.h"
#include "core/reorder/reorder.h"

namespace scalebits::analysis {

eval::StreamedModel quantized_layers(const model::Checkpoint& ckpt, const MatrixQuantizer& mq, bool reordered,
                                     torch::Device device, double* seconds) {
    const Analysis& a = mq.analysis();
    eval::StreamedModel m;
    m.layer = [&ckpt, &mq, &a, reordered, device, seconds](int l) {
        const auto t0 = std::chrono::steady_clock::now();
        model::DecoderLayer layer = model::load_decoder_layer(ckpt, ckpt.config, l, device, /*release=*/true);
        if (reordered) reorder::apply_to_layer(layer, a.permutations, ckpt.config, l);
        mq.fake_quantize_layer(layer, l);
        if (seconds) *seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return layer;
    };
    if (reordered) m.hidden = a.permutations.hidden;
    return m;
}

model::Checkpoint with_quantized_vocab(const model::Checkpoint& ckpt, const MatrixQuantizer& mq, const Progress& progress) {
    torch::NoGradGuard no_grad;
    model::Checkpoint out = ckpt;
    const Analysis& a = mq.analysis();
    // The quantizer's own layout: the rows come back in its column order (quantize_vocab_rows).
    const torch::Tensor inverse = mq.reordered() && !a.permutations.hidden.empty()
                                      ? torch::argsort(torch::tensor(a.permutations.hidden, torch::kLong))
                                      : torch::Tensor();
    for (int kind : {kEmbeddingKind, kLmHeadKind}) {
        const std::ptrdiff_t index = mq.vocab_matrix(kind);
        if (index < 0) continue;
        const MatrixAnalysis& m = a.matrices[static_cast<std::size_t>(index)];
        const io::HostTensor& src = ckpt.tensor(m.name);
        std::vector<float> values(static_cast<std::size_t>(m.rows() * m.cols()));
        const std::int64_t chunk = vocab_chunk_rows(m.cols(), m.tile_rows());
        for (std::int64_t first = 0; first < m.rows(); first += chunk) {
            progress.check();
            const std::int64_t rows = std::min(chunk, m.rows() - first);
            const torch::Tensor q = mq.quantize_vocab_rows(static_cast<std::size_t>(index), src, first, rows).dequantize();
            torch::from_blob(values.data() + first * m.cols(), {rows, m.cols()}, torch::kFloat)
                .copy_(inverse.defined() ? q.index_select(1, inverse) : q);
        }
        src.release_pages();
        out.tensors.insert_or_assign(m.name, io::HostTensor::from_floats(m.name, {m.rows(), m.cols()}, std::move(values)));
    }
    return out;
}

}  // namespace scalebits::analysis
