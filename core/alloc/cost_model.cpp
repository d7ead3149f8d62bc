#include "core/alloc/cost_model.h"

#include "core/util/error.h"
#include "scalebits/kernels.h"

#include <algorithm>

namespace scalebits {

namespace {

void check_bits(int bits) {
    if (bits < kMinBits || bits > kMaxBits)
        throw InputError("width of " + std::to_string(bits) + " bits is outside the supported range 2..8");
}
void check_tile_bits(int bits) {
    if (!is_tile_width(bits))
        throw InputError("width of " + std::to_string(bits) + " bits is outside the supported range 2..8 (or 16: kept at fp16)");
}

}  // namespace

std::int64_t packed_tile_bytes(std::int64_t rows, std::int64_t cols, std::int64_t group, int bits) {
    if (rows <= 0 || cols <= 0 || group <= 0)
        throw InputError("tile of " + std::to_string(rows) + "x" + std::to_string(cols) + " with group " +
                         std::to_string(group) + " has a non-positive size");
    check_tile_bits(bits);
    // The single definition of the format's sizes lives with the kernels that write and read it.
    return static_cast<std::int64_t>(kernels::packed_tile_bytes(std::size_t(rows), std::size_t(cols), std::size_t(group), bits));
}

static_assert(kTileHeaderBytes == std::int64_t(kernels::kTileHeaderBytes), "tile header size differs from the kernels'");
static_assert(kMinBits == kernels::kMinBits && kMaxBits == kernels::kMaxBits && kKeptBits == kernels::kDenseBits);

std::int64_t tile_bytes_with_header(std::int64_t rows, std::int64_t cols, std::int64_t group, int bits) {
    return packed_tile_bytes(rows, cols, group, bits) + kTileHeaderBytes;
}

std::int64_t group_bits(std::int64_t len, int bits) {
    if (len <= 0) throw InputError("group of " + std::to_string(len) + " weights has a non-positive size");
    check_bits(bits);
    return len * bits + kGroupScaleBits + bits;
}

void validate_matrices(std::span<const MatrixSpec> matrices) {
    for (const MatrixSpec& m : matrices) {
        const std::string who = "matrix '" + m.name + "'";
        if (m.rows() <= 0 || m.cols() <= 0)
            throw InputError(who + " has a non-positive shape " + std::to_string(m.rows()) + "x" + std::to_string(m.cols()));
        if (m.tile_rows() <= 0 || m.tile_cols() <= 0 || m.group() <= 0)
            throw InputError(who + " has a non-positive tile or group size");
        if (m.tile_cols() % m.group() != 0)
            throw InputError(who + ": group " + std::to_string(m.group()) + " does not divide the tile width (" +
                             std::to_string(m.tile_cols()) + " columns), as the packed format requires");
        for (int b : {m.min_bits, m.max_bits, m.pinned_bits})
            if (b != 0 && !is_tile_width(b))
                throw InputError(who + ": width constraint of " + std::to_string(b) + " bits is outside 2..8 (or 16: kept at fp16)");
        if (m.min_bits != 0 && m.max_bits != 0 && m.min_bits > m.max_bits)
            throw InputError(who + ": minimum width " + std::to_string(m.min_bits) + " is above the maximum " +
                             std::to_string(m.max_bits));
    }
}

SizeEstimate estimate_size(std::span<const MatrixSpec> matrices, std::span<const std::uint8_t> tile_widths,
                           std::int64_t overhead_bytes) {
    validate_matrices(matrices);
    if (overhead_bytes < 0) throw InputError("negative fixed overhead of " + std::to_string(overhead_bytes) + " bytes");
    SizeEstimate est;
    est.overhead_bytes = overhead_bytes;
    std::size_t next = 0;
    for (const MatrixSpec& m : matrices) {
        const std::int64_t n = m.tile_count();
        if (next + static_cast<std::size_t>(n) > tile_widths.size())
            throw InputError("size estimate: " + std::to_string(tile_widths.size()) +
                             " tile widths given, fewer than the tiles of the matrices");
        // Interior tiles all share one shape: cost each (shape, width) once, not once per tile.
        std::int64_t interior[kWidthSlots];
        std::fill(std::begin(interior), std::end(interior), -1);
        for (std::int64_t t = 0; t < n; ++t) {
            const int b = tile_widths[next + static_cast<std::size_t>(t)];
            const std::int64_t h = m.tile_height(t), w = m.tile_width(t);
            if (h == m.tile_rows() && w == m.tile_cols() && is_tile_width(b)) {
                if (interior[b] < 0) interior[b] = tile_bytes_with_header(h, w, m.group(), b);
                est.quantized_bytes += interior[b];
            } else {
                est.quantized_bytes += tile_bytes_with_header(h, w, m.group(), b);
            }
        }
        next += static_cast<std::size_t>(n);
        est.quantized_weights += m.weights();
    }
    if (next != tile_widths.size())
        throw InputError("size estimate: " + std::to_string(tile_widths.size()) + " tile widths given for " +
                         std::to_string(next) + " tiles");
    est.total_bytes = est.quantized_bytes + est.overhead_bytes;
    est.avg_bits = est.quantized_weights > 0 ? 8.0 * double(est.quantized_bytes) / double(est.quantized_weights) : 0.0;
    return est;
}

}  // namespace scalebits
