#include "core/analysis/quantized_stream.h"

#include <torch/torch.h>

#include <chrono>

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

}  // namespace scalebits::analysis
