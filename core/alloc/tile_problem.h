#pragma once
// The allocation problem at tile granularity and its result value. The same problem with the S table
// of a non-reordered analysis is the "per-tile without reordering" baseline: nothing else changes.
#include "core/alloc/budget.h"
#include "core/alloc/cost_model.h"
#include "core/alloc/item_table.h"

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace scalebits {

// One tile held at one width (the explorer's tile inspector, a workspace): the tile's index in the
// problem (matrix by matrix, row-major over each grid) and its width, a candidate. It overrides the
// matrix's pin and limits; every tile method keeps it, and it counts in the budget and the loss.
struct TilePin {
    std::int64_t tile = 0;
    int bits = 0;
};

struct TileProblem {
    std::vector<int> widths{2, 3, 4, 8};  // candidate widths, ascending, each in 2..8 or kKeptBits
    std::vector<MatrixSpec> matrices;
    std::vector<TilePin> tile_pins;  // ascending tile indices, one pin a tile
    // Predicted loss increase per tile and candidate width: S[tile * widths.size() + k], tiles matrix
    // by matrix, row-major over each matrix's tile grid.
    std::vector<double> S;
    std::int64_t overhead_bytes = 0;  // unquantized tensors + file header, for byte budgets

    std::int64_t tile_count() const;
    std::int64_t quantized_weights() const;
    // Checks widths, matrices and the S table size; throws InputError.
    void validate() const;
};

// Allowed candidate range [lo, hi] (indices into widths) of a matrix under its pinned/min/max width.
// Throws InputError naming the matrix when nothing is allowed or the pinned width is not a candidate.
std::pair<int, int> allowed_range(const MatrixSpec& m, const std::vector<int>& widths);

// Checks single tiles' pins against the problem: inside its tiles, in ascending tile order, one a
// tile, each at a candidate width. Throws InputError.
void validate_tile_pins(const TileProblem& problem, const std::vector<TilePin>& pins);

// Classes (cost per candidate with the tile header included, allowed range) and the class of every
// tile. S stays with the problem; the result's S is empty. A pinned tile's class allows its pin only.
ItemTable tile_classes(const TileProblem& problem);
// The same under other pins than problem.tile_pins (none: every tile free).
ItemTable tile_classes(const TileProblem& problem, const std::vector<TilePin>& pins);

// Overwrites the widths of pinned tiles after a method chose the others (per matrix, or on the tile
// ladder without the pinned tiles' upgrades); the costs already count the pinned widths.
void apply_tile_pins(const std::vector<TilePin>& pins, std::vector<std::uint8_t>& tile_widths);

// An allocation as a value: what the slider, the CLI and the export read.
struct TileAllocation {
    std::string method;
    std::vector<std::uint8_t> widths;  // width in bits per tile (TileProblem order)
    std::int64_t budget_bits = 0;      // what the quantized layers were allowed
    std::int64_t bits = 0;             // what they take (quantized_bytes * 8)
    std::int64_t quantized_bytes = 0;  // packed tiles + per-tile headers
    std::int64_t total_bytes = 0;      // + the problem's overhead_bytes
    double avg_bits = 0.0;             // bits / quantized weights
    double predicted_loss = 0.0;       // sum of S over the chosen widths
    std::size_t prefix = 0;            // ladder steps taken (ladder methods; the tile ladder's count
                                       // leaves out the pinned tiles' upgrades, which it skips)
    std::size_t ladder_size = 0;
};

// Weights per width (index = bits, 0..8) for each matrix: the histogram behind "widths per matrix type".
std::vector<std::array<std::int64_t, kWidthSlots>> weights_per_width(const std::vector<MatrixSpec>& matrices,
                                                           const std::vector<std::uint8_t>& tile_widths);

// Sum of S over an allocation's widths; throws InputError if a width is not a candidate.
double predicted_loss(const TileProblem& problem, const std::vector<std::uint8_t>& tile_widths);

}  // namespace scalebits
