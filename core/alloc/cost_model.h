#pragma once
// Exact byte cost of the packed format, shared by the allocator (budgets), the export dry run and
// the kernels. A tile of r x c weights quantized with groups of g input columns at width b is stored as
//   packed weights  ru16(ceil(r*c*b/8))
//   fp16 scales     ru16(2*ng)
//   packed zeros    ru16(ceil(ng*b/8))          with ng = r * ceil(c/g) groups, ru16 = round up to 16
// plus a per-tile header of kTileHeaderBytes (1 byte width map entry + 8 byte offset) that does not
// depend on b. The formula itself is kernels::packed_tile_bytes (scalebits/kernels.h), the one
// definition the packing code uses too; this wrapper adds input checks and signed sizes.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/alloc/matrix_geometry.h"
#include "scalebits/kernels.h"

namespace scalebits {

inline constexpr int kMinBits = 2;
inline constexpr int kMaxBits = 8;
// A tile kept at fp16 (kernels::kDenseBits): the top rung of the vocabulary matrices.
inline constexpr int kKeptBits = 16;
// Arrays indexed by a width in bits (histograms): 0..kKeptBits.
inline constexpr int kWidthSlots = kKeptBits + 1;
constexpr bool is_tile_width(int b) { return (b >= kMinBits && b <= kMaxBits) || b == kKeptBits; }
inline constexpr std::int64_t kTileHeaderBytes = 9;
// Per-group cost of irregular (per row-group) mixed precision, in bits on top of len*b:
// one fp16 scale; the zero point costs b more bits.
inline constexpr std::int64_t kGroupScaleBits = 16;

// Packed bytes of one tile (payload + scales + zeros), without the per-tile header.
// Throws InputError for non-positive sizes or a width that is neither 2..8 nor kKeptBits.
std::int64_t packed_tile_bytes(std::int64_t rows, std::int64_t cols, std::int64_t group, int bits);

// packed_tile_bytes + kTileHeaderBytes: what one tile adds to the file.
std::int64_t tile_bytes_with_header(std::int64_t rows, std::int64_t cols, std::int64_t group, int bits);

// Bits of one row-group of len weights at width b in the irregular per-group format (quality
// reference only: len*b payload + 16 bit scale + b bit zero, no alignment, no tile header).
std::int64_t group_bits(std::int64_t len, int bits);

// One quantized matrix (N x K, out x in) cut into tiles of tile_rows x tile_cols (edge tiles smaller),
// with width constraints. A value of 0 means "no constraint".
struct MatrixSpec : MatrixGeometry {
    std::string name;
    int min_bits = 0;     // lowest width the allocator may give this matrix
    int max_bits = 0;     // highest width the allocator may give this matrix
    int pinned_bits = 0;  // fixed width for every tile of this matrix (overrides min/max)
};

// Checks a matrix list (positive sizes, group divides tile_cols, constraints inside 2..8); throws InputError
// naming the matrix.
void validate_matrices(std::span<const MatrixSpec> matrices);

// The "dry run" (no quantization): bytes the quantized matrices take for one width per tile, plus a
// fixed overhead the caller supplies (unquantized tensors, file header, metadata). This is the one
// size estimate that the slider, the CLI and the export dialog share.
struct SizeEstimate {
    std::int64_t quantized_bytes = 0;  // packed tiles + per-tile headers
    std::int64_t overhead_bytes = 0;   // as supplied
    std::int64_t total_bytes = 0;      // quantized_bytes + overhead_bytes
    std::int64_t quantized_weights = 0;
    double avg_bits = 0.0;             // quantized_bytes * 8 / quantized_weights
};

// tile_widths holds one width in bits per tile, matrix by matrix, row-major over each tile grid.
SizeEstimate estimate_size(std::span<const MatrixSpec> matrices, std::span<const std::uint8_t> tile_widths,
                           std::int64_t overhead_bytes);

}  // namespace scalebits
