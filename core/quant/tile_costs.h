#pragma once
// Per-tile cost table of DESIGN.md 2.1: S(t, b) = 1/2 * sum_{(i,j) in tile t} F_ij (W_ij - Q_b(W)_ij)^2
// for every tile t and candidate width b, with Q_b the RTN-with-clip quantizer (export's default),
// whose clip search uses the same weights. F is the per-weight Fisher, its factored form r c^T
// (never expanded to N x K), or absent (plain squared error).
#include <ATen/core/Tensor.h>

#include <vector>

#include "core/quant/error_weights.h"
#include "core/quant/rtn.h"
#include "core/quant/tile_spec.h"

namespace scalebits::quant {

struct TileCostTable {
    std::int64_t rows = 0, cols = 0;
    TileSpec spec;
    std::vector<int> widths;  // candidate widths, the table's columns in this order
    at::Tensor costs;         // float64 [num_tiles, widths.size()], row-major tile order
    at::Tensor elements;      // int64 [num_tiles], weights per tile (edge tiles are smaller)
    // The same costs per row-group (g consecutive columns of one row): float64 [rows * groups per
    // row, widths.size()], row by row, left to right. RTN quantizes every group on its own, so a
    // tile's cost is exactly the sum of its groups' costs; the per-group table is what the
    // irregular per-group baseline allocates over.
    at::Tensor group_costs;
};

// Throws InputError for an empty width list or a width outside 2..8 (and what quantize_rtn throws).
// On the CPU one fused pass per row-group (tile_costs_cpu.cpp: every width and clip candidate of a
// group while it is in cache, threads over rows); elsewhere tile_costs_reference.
TileCostTable tile_costs(const at::Tensor& w, const TileSpec& spec, const std::vector<int>& widths,
                         const ErrorWeights& weights = {}, const RtnOptions& options = {});

// The definition: quantize_rtn at each width, dequantize, weighted squared errors summed per group
// and per tile (tensor operations). The fused pass equals it up to the order of float sums, which can
// tip a near-tie between two clip candidates (their costs are then nearly equal too).
TileCostTable tile_costs_reference(const at::Tensor& w, const TileSpec& spec, const std::vector<int>& widths,
                                   const ErrorWeights& weights = {}, const RtnOptions& options = {});

}  // namespace scalebits::quant
