#pragma once
// The statistics of sensitivity.h for one decoder layer at a time (layer streaming, DESIGN.md 2.1):
// the layer is recomputed under autograd from its stored input h_l of each calibration sequence and
// given the gradient of that sequence's loss with respect to its output, dL_s/dh_{l+1}. The whole
// model's backward is the chain of these per-layer backwards, so F, r, c and H equal those of
// compute_sensitivity (up to floating-point summation order: the per-sequence gradients stay exact),
// and the gradient with respect to the layer's input, dL_s/dh_l, is what the layer below is given.
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/calib/sensitivity.h"
#include "core/model/llama.h"
#include "core/util/cancel.h"

namespace scalebits::calib {

// Sequence s's tensor {1, T, dim} (fp32, on the model's device).
using SequenceTensor = std::function<torch::Tensor(std::int64_t s)>;

struct LayerPass {
    LayerSensitivity stats;                  // fisher / r / H as `options` asks; c always
    std::vector<torch::Tensor> input_grads;  // dL_s/dh_l per sequence {1, T, dim} when asked, else empty
};

// `shell` gives the decoder's arithmetic (a weightless LlamaModel is enough); `layer` is layer `index`
// of that config. c is the mean over the sequences' tokens, as in compute_sensitivity. Progress:
// `stage`, one unit per sequence (checked before each). The layer's weights are left as they were.
LayerPass layer_sensitivity(model::LlamaModel& shell, model::DecoderLayer& layer, int index, std::int64_t sequences,
                            const SequenceTensor& input, const SequenceTensor& output_grad,
                            const SensitivityOptions& options, bool input_grads, const Progress& progress = {},
                            const std::string& stage = "sensitivity");

}  // namespace scalebits::calib
