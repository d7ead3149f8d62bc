#pragma once
// The row and column gathers that a set of permutations (permutations.h) makes of one linear weight.
#include <torch/types.h>

#include "core/base/model_config.h"
#include "core/model/llama.h"
#include "core/reorder/permutations.h"

namespace scalebits::reorder {

// The row and column gathers of one linear weight {out, in} (undefined = unchanged), as int64
// tensors on `device`.
struct MatrixIndex {
    torch::Tensor rows, cols;
};
MatrixIndex matrix_index(const Permutations& perms, const model::ModelConfig& config, int layer,
                         model::LinearKind kind, torch::Device device = torch::kCPU);

}  // namespace scalebits::reorder
