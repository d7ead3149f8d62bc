#pragma once
// Tile and group geometry shared by the quantizers, the cost tables, the allocator and the packed
// kernels. Keep these definitions exactly; the packed format depends on them.
//
// W is N x K (out x in). Tiles are tile_rows x tile_cols, the grid is ceil(N/Tr) x ceil(K/Tc),
// tiles are numbered row-major (t = tile_row * grid_cols + tile_col) and edge tiles are smaller.
// A group is `group` consecutive columns of one row; group divides tile_cols, so groups never cross
// a tile boundary and the groups of a row are simply the column blocks [k*g, (k+1)*g) of the whole
// row (the last one shorter when K is not a multiple of g). Every group has one scale and one zero
// point; every tile has one bit width.
#include <cstdint>
#include <initializer_list>
#include <string>

#include "scalebits/kernels.h"

namespace scalebits::quant {

struct TileBounds {
    std::int64_t row0 = 0, row1 = 0;  // [row0, row1)
    std::int64_t col0 = 0, col1 = 0;  // [col0, col1)
    std::int64_t rows() const { return row1 - row0; }
    std::int64_t cols() const { return col1 - col0; }
    std::int64_t elements() const { return rows() * cols(); }
};

struct TileSpec {
    std::int64_t tile_rows = 128;
    std::int64_t tile_cols = 128;
    std::int64_t group = 128;

    // Throws InputError when a field is not positive or group does not divide tile_cols.
    void validate() const;
    // Same, and also checks the matrix shape (N, K > 0).
    void validate_shape(std::int64_t rows, std::int64_t cols) const;

    // This tiling over a rows x cols matrix: kernels::TileGrid holds the rounding
    // and the edge tiles for every part of the project.
    kernels::TileGrid grid(std::int64_t rows, std::int64_t cols) const {
        return kernels::TileGrid::of(rows, cols, tile_rows, tile_cols, group);
    }
    std::int64_t grid_rows(std::int64_t rows) const { return static_cast<std::int64_t>(grid(rows, 0).tiles_r()); }
    std::int64_t grid_cols(std::int64_t cols) const { return static_cast<std::int64_t>(grid(0, cols).tiles_c()); }
    std::int64_t num_tiles(std::int64_t rows, std::int64_t cols) const {
        return static_cast<std::int64_t>(grid(rows, cols).tile_count());
    }
    // Groups per row over the whole matrix (what the scale/zero tensors have as columns).
    std::int64_t groups_per_row(std::int64_t cols) const {
        return static_cast<std::int64_t>(grid(0, cols).groups_per_row());
    }
    std::int64_t num_groups(std::int64_t rows, std::int64_t cols) const {
        return rows * groups_per_row(cols);
    }
    // Bounds of tile t (row-major); throws InputError when t is out of range.
    TileBounds tile_bounds(std::int64_t rows, std::int64_t cols, std::int64_t tile) const;
    // Tile column that group k of a row belongs to.
    std::int64_t tile_col_of_group(std::int64_t k) const { return (k * group) / tile_cols; }

    std::string to_string() const;  // "128x128/g128"

    // The project's automatic group choice: 128 when every dimension in `dims` is a multiple of
    // 128, else 64 (SmolLM2's hidden size 576 = 4.5 * 128); then reduced to gcd(choice, tile_cols)
    // so the result always divides the tile width.
    static std::int64_t automatic_group(std::initializer_list<std::int64_t> dims,
                                        std::int64_t tile_cols = 128);
    static TileSpec automatic(std::initializer_list<std::int64_t> dims,
                              std::int64_t tile_rows = 128, std::int64_t tile_cols = 128);

    bool operator==(const TileSpec&) const = default;
};

}  // namespace scalebits::quant
