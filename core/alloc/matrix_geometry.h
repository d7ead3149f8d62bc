#pragma once
// A quantized matrix's geometry, shared by the allocator's MatrixSpec and the analysis's
// MatrixAnalysis: the packed format's kernels::TileGrid (shape, tile sizes, group; its rounding,
// tile counts and edge tiles) as the one record, read through signed accessors because the rest of
// core counts in std::int64_t.
#include <cstddef>
#include <cstdint>

#include "scalebits/kernels.h"

namespace scalebits {

struct MatrixGeometry {
    kernels::TileGrid grid;

    std::int64_t rows() const { return static_cast<std::int64_t>(grid.rows); }
    std::int64_t cols() const { return static_cast<std::int64_t>(grid.cols); }
    std::int64_t tile_rows() const { return static_cast<std::int64_t>(grid.tile_rows); }
    std::int64_t tile_cols() const { return static_cast<std::int64_t>(grid.tile_cols); }
    std::int64_t group() const { return static_cast<std::int64_t>(grid.group); }
    std::int64_t grid_rows() const { return static_cast<std::int64_t>(grid.tiles_r()); }
    std::int64_t grid_cols() const { return static_cast<std::int64_t>(grid.tiles_c()); }
    std::int64_t tile_count() const { return static_cast<std::int64_t>(grid.tile_count()); }
    std::int64_t weights() const { return rows() * cols(); }
    // Shape of tile number t (row-major over the grid); edge tiles are cut short. t < tile_count().
    std::int64_t tile_height(std::int64_t t) const {
        return static_cast<std::int64_t>(grid.tile_height(static_cast<std::size_t>(t) / grid.tiles_c()));
    }
    std::int64_t tile_width(std::int64_t t) const {
        return static_cast<std::int64_t>(grid.tile_width(static_cast<std::size_t>(t) % grid.tiles_c()));
    }
    std::int64_t groups_per_row() const { return static_cast<std::int64_t>(grid.groups_per_row()); }
    std::int64_t group_count() const { return rows() * groups_per_row(); }
};

}  // namespace scalebits
