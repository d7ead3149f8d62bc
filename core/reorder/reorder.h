#pragma once
// Bi-directional channel reordering (DESIGN.md 2.2): sensitivity-driven permutations, folded into
// the weights so that the reordered model computes the same function (RMSNorm is
// permutation-equivariant: the mean of squares does not depend on the order of the channels), and
// the matching permutation of the calibration statistics so the reordered layout's cost tables
// can be computed without recalibrating.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/calib/sensitivity.h"
#include "core/model/llama.h"
#include "core/reorder/permutations.h"

namespace scalebits::reorder {

struct ReorderOptions {
    bool hidden = true;   // P_hidden
    bool ffn = true;      // P_ffn per layer
    bool heads = false;   // KV-head blocks per layer (optional in the method)
    bool v_dims = false;  // v rows / o columns inside each KV head
    // Sort by the per-weight Fisher, or by its factored form r c^T (for statistics computed
    // without the per-weight F).
    enum class Source { Fisher, Factored } source = Source::Fisher;
};

// Scores: each permuted index gets the summed sensitivity of every weight it moves (P_hidden: column
// sums of q, k, v, gate, up and row sums of o, down over all layers; P_ffn: rows of gate and up plus
// columns of down; heads: all q/k/v rows and o columns of the group; v_dims: the v row plus its o
// columns). Sorted descending, ties by the original index, so the most sensitive channels gather in
// the first tiles. `sens` must be in the original layout. Throws InputError when the statistics
// that `source` needs are missing or do not fit the config.
Permutations compute_permutations(const calib::Sensitivity& sens, const model::ModelConfig& config,
                                  const ReorderOptions& options = {});

// Row and column sums of one matrix's sensitivity (what the permutations are decided from), and the
// same for every matrix of every layer. Layer streaming keeps only these of the per-weight Fisher
// until the permutations are known.
struct Marginals {
    std::vector<double> rows, cols;
};
using LayerMarginals = std::array<Marginals, model::kLinearKinds>;
Marginals marginals(const calib::LinearSensitivity& s, ReorderOptions::Source source, const std::string& what);
// compute_permutations from the marginals alone (one entry per layer, in LinearKind order).
Permutations permutations_from_marginals(const std::vector<LayerMarginals>& layers, const model::ModelConfig& config,
                                         const ReorderOptions& options = {});

// Folds the permutations into the model's weights (in place). Throws InputError when they do not
// fit the model or a linear layer runs a packed override op.
void apply_to_model(model::LlamaModel& model, const Permutations& perms);

// One layer's share of apply_to_model: its linear weights and biases, and its two norms.
void apply_to_layer(model::DecoderLayer& layer, const Permutations& perms, const model::ModelConfig& config, int index);

// The statistics of the reordered layout: F rows/cols, r, c and H gathered like their weights.
calib::Sensitivity permute_sensitivity(const calib::Sensitivity& sens, const Permutations& perms,
                                       const model::ModelConfig& config);
// The same for layer `index` alone. Taken by value: a caller that moves its statistics in has each
// source tensor freed as soon as its gathered copy exists (one matrix's worth extra, not a layer's).
calib::LayerSensitivity permute_layer_sensitivity(calib::LayerSensitivity layer, const Permutations& perms,
                                                  const model::ModelConfig& config, int index);

}  // namespace scalebits::reorder
