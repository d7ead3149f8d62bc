#pragma once
// One matrix's share of an analysis, computed the same way by the in-memory analysis and the
// layer-streamed one: its record (name, shape, tile grid) and its tables in one layout from its
// weights and per-weight Fisher.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/analysis/analysis.h"
#include "core/base/tensor_names.h"
#include "core/quant/tile_spec.h"

namespace scalebits::analysis {

struct MatrixTables {
    std::vector<double> cost;        // S(t, b), [tiles * widths]
    std::vector<double> fisher;      // Fisher mass per tile
    std::vector<float> group_cost;   // S per row-group, [rows * groups per row * widths], float32
};

// The record of matrix `kind` of `layer` with its tile grid; tables and totals empty.
// A record of any matrix: name, layer, kind (analysis.h), shape, and its tile grid under `spec`.
MatrixAnalysis matrix_record(std::string name, int layer, int kind, std::int64_t rows, std::int64_t cols,
                             const quant::TileSpec& spec);
MatrixAnalysis matrix_record(const model::ModelConfig& config, int layer, model::LinearKind kind,
                             const quant::TileSpec& spec);

// w: the weight in the layout the tables are for; fisher: its per-weight Fisher in that layout.
MatrixTables matrix_tables(const torch::Tensor& w, const torch::Tensor& fisher, const quant::TileSpec& spec,
                           const std::vector<int>& widths);

// A tensor's values as float64 / float32 on the CPU (any dtype and device).
std::vector<double> to_doubles(const torch::Tensor& t);
std::vector<float> to_floats(const torch::Tensor& t);

}  // namespace scalebits::analysis
