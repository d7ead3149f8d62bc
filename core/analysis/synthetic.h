#pragma once
// Synthetic analyses: realistic random per-tile tables without a model or a calibration run, for the
// GUI's tests and its responsiveness benchmark (a 500,000-tile analysis has no real counterpart on
// this machine). Deterministic for a seed.
//
// How the numbers are shaped, so that heatmaps and allocations look like real ones:
//  - every row and column channel of a matrix gets a heavy-tailed (Pareto) sensitivity factor, a few
//    channels dominate, as outlier channels do in real LLMs;
//  - the Fisher mass of a tile is (sum of its row factors) x (sum of its column factors) x a
//    log-normal tile noise, so sensitivity concentrates along some rows and columns;
//  - the reordered layout sorts the channels by factor (heaviest first) before cutting tiles, so the
//    same mass gathers into fewer tiles, which is what reordering buys on real models;
//  - S(t, b) = mass(t) * 4^-b * (1 + jitter): strictly decreasing in the width, as quantization noise
//    power falls by 4 per extra bit.
#include <cstdint>

#include "core/analysis/analysis.h"

namespace scalebits::analysis {

struct SyntheticOptions {
    model::ModelConfig config;  // dim, hidden_dim, n_layers, n_heads, n_kv_heads, head_dim, vocab_size
    std::int64_t tile = 128;    // square tiles
    std::uint64_t seed = 1;
};

// A SmolLM2-135M-shaped analysis (30 layers, dim 576, hidden 1536, 9 heads, 3 KV heads).
SyntheticOptions smollm2_like(std::uint64_t seed = 1);
// A Llama-3-8B-shaped analysis (dim 4096, hidden 14336, 8 KV heads) with as many layers as it takes to
// reach at least `tiles` tiles (13,312 per layer with 128 x 128 tiles).
SyntheticOptions llama_like_for_tiles(std::int64_t tiles, std::uint64_t seed = 1);

// Throws InputError for a non-positive size.
Analysis make_synthetic_analysis(const SyntheticOptions& options);

}  // namespace scalebits::analysis
