#pragma once
// Sensitivity statistics of DESIGN.md 2.1, gathered in one pass over a calibration set:
//  - fisher: the diagonal empirical Fisher of every linear weight, F = sum_s (dL_s/dW)^2, with L_s
//    the mean next-token cross-entropy of calibration sequence s (one backward per sequence, so the
//    per-sequence gradients are exact, not a batch average);
//  - r: output-gradient statistics, r_i = sum over sequences and tokens of (dL_s/dy_i)^2;
//  - c: input second moments, c_j = mean over calibration tokens of x_j^2.
//    With r a sum and c a mean, r_i * c_j estimates F_ij directly (same scale): per token
//    dL_s/dW_ij = delta_i x_j, and if token cross terms cancel and delta is independent of x,
//    sum_t delta_ti^2 x_tj^2 ~= (sum_t delta_ti^2) * E[x_j^2]. factored_correlation() measures
//    how true that is;
//  - hessian: H = sum over tokens of x x^T of each distinct layer input (GPTQ). q/k/v read the
//    same input and gate/up too, so there are four per layer (InputSite).
// Everything is accumulated in fp32 on the model's device and returned there.
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/model/llama.h"
#include "core/util/cancel.h"

namespace scalebits::calib {

using model::LinearKind;
using model::kLinearKinds;

// The four distinct inputs of a decoder layer's linear layers.
enum class InputSite { AttnIn, OIn, MlpIn, DownIn };
constexpr int kInputSites = 4;
InputSite input_site(LinearKind kind);
const char* input_site_name(InputSite site);  // "attn_in", "o_in", "mlp_in", "down_in"
// The first consumer of each input site (q, o, gate, down): statistics of an input are gathered only
// at it, so the shared inputs of q/k/v and gate/up are counted once.
bool first_of_site(LinearKind kind);

struct LinearSensitivity {
    torch::Tensor fisher;  // {N, K}, undefined unless options.fisher
    torch::Tensor r;       // {N}, undefined unless options.factored
    torch::Tensor c;       // {K} (q/k/v hold equal copies, as do gate/up)
};

struct LayerSensitivity {
    std::array<LinearSensitivity, kLinearKinds> linear;
    std::array<torch::Tensor, kInputSites> hessian;  // {K, K}, undefined unless options.hessian

    LinearSensitivity& operator[](LinearKind k) { return linear[static_cast<std::size_t>(k)]; }
    const LinearSensitivity& operator[](LinearKind k) const { return linear[static_cast<std::size_t>(k)]; }
    torch::Tensor& hessian_of(LinearKind k) { return hessian[static_cast<std::size_t>(input_site(k))]; }
    const torch::Tensor& hessian_of(LinearKind k) const { return hessian[static_cast<std::size_t>(input_site(k))]; }
};

struct SensitivityOptions {
    bool fisher = true;    // per-weight F (needs a backward per sequence)
    bool factored = true;  // r (needs the backward too) and c
    bool hessian = true;   // H per input site (forward only)
    bool vocab = false;    // per-weight F of the embedding and an untied lm_head (needs `fisher`)
};

struct Sensitivity {
    std::vector<LayerSensitivity> layers;
    // {vocab, dim} per-weight Fisher of the vocabulary matrices, when options.vocab: the embedding
    // (with a tied lm_head, the gradient of both uses of the one matrix, summed per sequence) and an
    // untied lm_head (undefined when tied).
    torch::Tensor embedding_fisher, lm_head_fisher;
    std::int64_t sequences = 0;
    std::int64_t seq_len = 0;
    std::int64_t tokens = 0;      // inputs accumulated into c and H (sequences * seq_len)
    double mean_loss = 0.0;       // mean over sequences of L_s (nats)
    double seconds = 0.0;         // wall time of the pass
};

// tokens: {n, L} integer ids (any device), L >= 2. The model's weights are left as they were
// (requires_grad off, observers cleared), also when cancelled. Throws InputError on a bad token
// tensor or a model whose linear layers use an override (packed) op; CancelledError through
// `progress` (checked before every sequence: one sequence is the unit of work).
Sensitivity compute_sensitivity(model::LlamaModel& model, const torch::Tensor& tokens,
                                const SensitivityOptions& options = {}, const Progress& progress = {});

// GPTQ Hessians are symmetric, so files store their upper triangle row by row (H[0, 0..K-1],
// H[1, 1..K-1], ...): K(K+1)/2 float32 values, half the full matrix (a 1-D CPU tensor).
torch::Tensor pack_upper_triangle(const torch::Tensor& h);
// The full {K, K} fp32 matrix back, mirrored; K from the count. Throws InputError (naming `what`)
// when the count is not a triangular number.
torch::Tensor unpack_upper_triangle(const float* packed, std::int64_t count, const std::string& what);

// How well r c^T explains F over all weights of one matrix: Pearson correlation of the values,
// and of their logarithms over the entries where both are positive. NaN when undefined (constant).
struct FactoredCorrelation {
    double pearson = 0.0;
    double log_pearson = 0.0;
};
FactoredCorrelation factored_correlation(const torch::Tensor& fisher, const torch::Tensor& r, const torch::Tensor& c);

}  // namespace scalebits::calib
