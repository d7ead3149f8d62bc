#pragma once
// Applies an analysis' layout and an allocation to a full-precision model: folds the analysis'
// permutations into the weights, then replaces every quantized matrix by its fake-quantized
// (quantize + dequantize) version with the allocation's per-tile widths. The quantizers are the
// ones export uses, steered by the analysis' factored Fisher (r, c) and, for GPTQ, its Hessians.
#include <cstdint>
#include <string>
#include <vector>

#include "core/analysis/analysis.h"
#include "core/model/llama.h"
#include "core/util/cancel.h"

namespace scalebits::analysis {

enum class Quantizer { Rtn, Gptq };
Quantizer parse_quantizer(const std::string& name);  // "rtn" | "gptq"; InputError otherwise
const char* quantizer_name(Quantizer q);

// Permutes `model` into the analysis' reordered layout (reordered = true) or leaves it as loaded.
void apply_layout(model::LlamaModel& model, const Analysis& analysis, bool reordered);

// What one entry of the widths vector covers: a tile of the analysis' grid (every runtime-friendly
// method) or one row-group (the per-group baseline; reordered layout only).
enum class WidthGranularity { Tile, Group };

// widths: one width per tile (or per group), matrices in analysis order, row-major grids (the
// TileAllocation / GroupAllocation order). The model must already be in the layout the widths were
// solved for. In the original layout the analysis' r, c and Hessians are un-permuted.
void fake_quantize(model::LlamaModel& model, const Analysis& analysis, const std::vector<std::uint8_t>& widths,
                   Quantizer quantizer, bool reordered, const Progress& progress = {},
                   WidthGranularity granularity = WidthGranularity::Tile);

// Every tile of every matrix at `bits`.
std::vector<std::uint8_t> uniform_tile_widths(const Analysis& analysis, int bits);

}  // namespace scalebits::analysis
