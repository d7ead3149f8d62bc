#include "core/quant/tile_spec.h"

#include <algorithm>
#include <numeric>

#include "core/util/error.h"
#include "core/util/option_error.h"

namespace scalebits::quant {

void TileSpec::validate() const {
    if (tile_rows <= 0 || tile_cols <= 0)
        throw OptionError(Setting::Tile, "the tile " + to_string() + " needs positive sizes");
    if (group <= 0) throw OptionError(Setting::Group, "the group size must be positive (tile " + to_string() + ")");
    if (tile_cols % group != 0)
        throw OptionError(Setting::Group, "the tile width " + std::to_string(tile_cols) + " is not a multiple of the group " +
                                              std::to_string(group));
}

void TileSpec::validate_shape(std::int64_t rows, std::int64_t cols) const {
    validate();
    if (rows <= 0 || cols <= 0)
        throw InputError("matrix shape " + std::to_string(rows) + "x" + std::to_string(cols) +
                         " is empty");
}

TileBounds TileSpec::tile_bounds(std::int64_t rows, std::int64_t cols, std::int64_t tile) const {
    const kernels::TileGrid g = grid(rows, cols);
    if (rows <= 0 || cols <= 0 || tile < 0 || tile >= static_cast<std::int64_t>(g.tile_count()))
        throw InputError("tile index " + std::to_string(tile) + " out of range for a " +
                         std::to_string(rows) + "x" + std::to_string(cols) + " matrix with " +
                         to_string() + " tiles");
    const std::size_t ti = static_cast<std::size_t>(tile) / g.tiles_c(), tj = static_cast<std::size_t>(tile) % g.tiles_c();
    TileBounds b;
    b.row0 = static_cast<std::int64_t>(ti) * tile_rows;
    b.col0 = static_cast<std::int64_t>(tj) * tile_cols;
    b.row1 = b.row0 + static_cast<std::int64_t>(g.tile_height(ti));
    b.col1 = b.col0 + static_cast<std::int64_t>(g.tile_width(tj));
    return b;
}

std::string TileSpec::to_string() const {
    return std::to_string(tile_rows) + "x" + std::to_string(tile_cols) + "/g" + std::to_string(group);
}

std::int64_t TileSpec::automatic_group(std::initializer_list<std::int64_t> dims,
                                       std::int64_t tile_cols) {
    if (tile_cols <= 0) throw InputError("tile width must be positive");
    std::int64_t g = 128;
    for (std::int64_t d : dims)
        if (d % 128 != 0) g = 64;
    return std::gcd(g, tile_cols);
}

TileSpec TileSpec::automatic(std::initializer_list<std::int64_t> dims, std::int64_t tile_rows,
                             std::int64_t tile_cols) {
    TileSpec s{tile_rows, tile_cols, automatic_group(dims, tile_cols)};
    s.validate();
    return s;
}

}  // namespace scalebits::quant
