#pragma once
// A fake-quantized model handed out one layer at a time (layer streaming): each layer loaded from the
// checkpoint in fp32, folded into the allocation's layout and fake-quantized with its widths when the
// pass reaches it, so an allocation of a model larger than memory is evaluated with one layer resident.
#include <torch/types.h>

#include "core/analysis/fake_quant.h"
#include "core/eval/layer_stream.h"
#include "core/model/checkpoint.h"

namespace scalebits::analysis {

// `quantizer` and `checkpoint` must outlive the result. `seconds`, when given, accumulates the time
// spent loading, permuting and quantizing layers.
eval::StreamedModel quantized_layers(const model::Checkpoint& checkpoint, const MatrixQuantizer& quantizer,
                                     bool reordered, torch::Device device, double* seconds = nullptr);

// A copy of `checkpoint` whose vocabulary matrices are fake-quantized as `quantizer`'s widths say
// (in their layout, then put back in the checkpoint's), held in fp32: the ends a whole-file
// allocation is evaluated with (StreamedModel::ends). Quantized a chunk of tile rows at a time.
model::Checkpoint with_quantized_vocab(const model::Checkpoint& checkpoint, const MatrixQuantizer& quantizer,
                                       const Progress& progress = {});

}  // namespace scalebits::analysis
