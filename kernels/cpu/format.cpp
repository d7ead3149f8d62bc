// Sizes, validation and packing of the tile format (layout in format.h).
#include "format.h"
#include "thread_pool.h"

#include "scalebits/kernels.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace scalebits::kernels {

// The allocator's cost model charges exactly these sizes; a change here is a format change.
static_assert(packed_tile_bytes(128, 128, 128, 2) == 4096 + 256 + 32);
static_assert(packed_tile_bytes(128, 128, 128, 3) == 6144 + 256 + 48);
static_assert(packed_tile_bytes(128, 128, 128, 4) == 8192 + 256 + 64);
static_assert(packed_tile_bytes(128, 128, 64, 3) == 6144 + 512 + 96);
static_assert(packed_tile_bytes(128, 128, 128, 8) == 16384 + 256 + 128);
// Edge tile 44 x 4, group 64, 3 bits: payload ceil(528/8)=66 -> 80, scales 88 -> 96, zeros 17 -> 32.
static_assert(packed_tile_bytes(44, 4, 64, 3) == 80 + 96 + 32);
// Every full-chunk payload is exactly b vectors per row and chunk: no padding inside chunks.
static_assert(packed_tile_sections(128, 256, 128, 7).payload == 128 * 2 * 7 * 16);
// A tile kept at fp16: two bytes a weight, nothing else (44 x 5 -> 440 -> 448).
static_assert(packed_tile_bytes(128, 128, 64, kDenseBits) == 32768);
static_assert(packed_tile_bytes(44, 5, 64, kDenseBits) == 448);

namespace {
std::string shape_text(std::size_t a, std::size_t b) { return std::to_string(a) + "x" + std::to_string(b); }
}  // namespace

std::size_t TileGrid::tile_height(std::size_t ti) const {
    const std::size_t start = ti * tile_rows;
    return rows - start < tile_rows ? rows - start : tile_rows;
}

std::size_t TileGrid::tile_width(std::size_t tj) const {
    const std::size_t start = tj * tile_cols;
    return cols - start < tile_cols ? cols - start : tile_cols;
}

void TileGrid::validate() const {
    if (rows == 0 || cols == 0) throw std::invalid_argument("packed matrix: empty shape " + shape_text(rows, cols));
    // Far beyond any weight matrix (2^28 rows or columns); keeps every count and byte size, up to a
    // whole tile's r * c * 8 bits, far below 2^64 (a grid read from a file is validated before
    // anything is computed from it).
    constexpr std::size_t kMaxDim = std::size_t(1) << 28;
    if (rows > kMaxDim || cols > kMaxDim || tile_rows > kMaxDim || tile_cols > kMaxDim)
        throw std::invalid_argument("packed matrix: implausible shape " + shape_text(rows, cols) + " or tile " +
                                    shape_text(tile_rows, tile_cols));
    if (tile_rows == 0 || tile_cols == 0)
        throw std::invalid_argument("packed matrix: empty tile shape " + shape_text(tile_rows, tile_cols));
    if (group == 0 || tile_cols % group != 0)
        throw std::invalid_argument("packed matrix: group " + std::to_string(group) + " does not divide tile width " +
                                    std::to_string(tile_cols));
}

std::size_t packed_data_bytes(const TileGrid& grid, const std::uint8_t* widths) {
    std::size_t total = 0;
    for (std::size_t ti = 0; ti < grid.tiles_r(); ++ti)
        for (std::size_t tj = 0; tj < grid.tiles_c(); ++tj)
            total += packed_tile_bytes(grid.tile_height(ti), grid.tile_width(tj), grid.group,
                                       widths[ti * grid.tiles_c() + tj]);
    return total;
}

void validate(const PackedMatrixView& v) {
    v.grid.validate();
    if (!v.widths || !v.tile_offsets || !v.data) throw std::invalid_argument("packed matrix: missing section");
    std::size_t expected_next = 0;
    for (std::size_t ti = 0; ti < v.grid.tiles_r(); ++ti) {
        for (std::size_t tj = 0; tj < v.grid.tiles_c(); ++tj) {
            const std::size_t t = ti * v.grid.tiles_c() + tj;
            const int b = v.widths[t];
            if (!valid_tile_width(b))
                throw std::invalid_argument("packed matrix: tile " + std::to_string(t) + " has width " +
                                            std::to_string(b) + " (allowed 2..8 and 16)");
            const std::uint64_t off = v.tile_offsets[t];
            const std::size_t bytes = packed_tile_bytes(v.grid.tile_height(ti), v.grid.tile_width(tj), v.grid.group, b);
            if (off % 16 != 0)
                throw std::invalid_argument("packed matrix: tile " + std::to_string(t) + " offset " +
                                            std::to_string(off) + " is not 16-byte aligned");
            if (off < expected_next)
                throw std::invalid_argument("packed matrix: tile " + std::to_string(t) + " overlaps the previous tile");
            if (off > v.data_bytes || bytes > v.data_bytes - off)
                throw std::invalid_argument("packed matrix: tile " + std::to_string(t) + " (" + std::to_string(bytes) +
                                            " bytes at " + std::to_string(off) + ") runs past the data (" +
                                            std::to_string(v.data_bytes) + " bytes)");
            expected_next = off + bytes;
        }
    }
}

namespace {

void pack_tile(const TileGrid& grid, std::size_t ti, std::size_t tj, int width, const std::uint8_t* codes,
               const float* scales, const std::uint8_t* zeros, const float* dense, std::uint8_t* tile) {
    if (width == kDenseBits) {  // the weights themselves, as fp16, row-major
        const std::size_t r = grid.tile_height(ti), c = grid.tile_width(tj);
        for (std::size_t row = 0; row < r; ++row)
            for (std::size_t col = 0; col < c; ++col) {
                const std::uint16_t h =
                    float_to_half(dense[(ti * grid.tile_rows + row) * grid.cols + tj * grid.tile_cols + col]);
                std::memcpy(tile + 2 * (row * c + col), &h, 2);
            }
        return;
    }
    const std::size_t gpr = grid.groups_per_row();
    const fmt::TileGeom geom{grid.tile_height(ti), grid.tile_width(tj), grid.group, width};
    const TileSections sec = packed_tile_sections(geom.r, geom.c, geom.g, geom.b);
    const unsigned qmax = (1u << geom.b) - 1u;
    const fmt::WidthLayout& wl = fmt::kWidthTable[geom.b];
    for (std::size_t row = 0; row < geom.r; ++row) {
        const std::size_t n = ti * grid.tile_rows + row;
        for (std::size_t col = 0; col < geom.c; ++col) {
            const std::size_t k = tj * grid.tile_cols + col;
            const unsigned q = codes[n * grid.cols + k];
            if (q > qmax)
                throw std::invalid_argument("pack_matrix: code " + std::to_string(q) + " at (" + std::to_string(n) +
                                            ", " + std::to_string(k) + ") exceeds " + std::to_string(geom.b) + " bits");
            const std::size_t j = col / 128;
            if (j < geom.nc()) {
                const int cc = static_cast<int>(col % 128);
                for (int i = 0; i < wl.part_count; ++i) {
                    const fmt::Part& p = wl.parts[i];
                    const fmt::PartLoc l = fmt::part_location(p, cc);
                    const std::size_t lane_byte = fmt::vector_offset(geom.r, geom.b, j, l.vector, row) + 2 * l.lane;
                    fmt::write_bits(tile + lane_byte, static_cast<std::size_t>(l.bit), p.bits,
                                    (q >> p.shift) & ((1u << p.bits) - 1u));
                }
            } else {
                const std::size_t idx = row * geom.tail() + (col - geom.nc() * 128);
                fmt::write_bits(tile + geom.tail_start(), idx * static_cast<std::size_t>(geom.b), geom.b, q);
            }
        }
        for (std::size_t gi = 0; gi < geom.groups_per_row(); ++gi) {
            const std::size_t src = n * gpr + (tj * grid.tile_cols) / grid.group + gi;
            const std::uint16_t h = float_to_half(scales[src]);
            std::memcpy(tile + sec.payload + 2 * (gi * geom.r + row), &h, 2);
            if (zeros[src] > qmax)
                throw std::invalid_argument("pack_matrix: zero point " + std::to_string(zeros[src]) + " of row " +
                                            std::to_string(n) + " exceeds " + std::to_string(geom.b) + " bits");
            fmt::write_bits(tile + sec.payload + sec.scales, (gi * geom.r + row) * static_cast<std::size_t>(geom.b),
                            geom.b, zeros[src]);
        }
    }
}

}  // namespace

PackedMatrix pack_matrix(const TileGrid& grid, const std::uint8_t* widths, const std::uint8_t* codes,
                         const float* scales, const std::uint8_t* zeros, const float* dense) {
    grid.validate();
    PackedMatrix m;
    m.grid = grid;
    m.widths.assign(widths, widths + grid.tile_count());
    for (std::size_t t = 0; t < m.widths.size(); ++t)
        if (!valid_tile_width(m.widths[t]))
            throw std::invalid_argument("pack_matrix: tile " + std::to_string(t) + " width " +
                                        std::to_string(m.widths[t]) + " outside 2..8 and 16");
        else if (m.widths[t] == kDenseBits && !dense)
            throw std::invalid_argument("pack_matrix: tile " + std::to_string(t) + " is kept at fp16 but no weights were given");
    m.data.assign(packed_data_bytes(grid, m.widths.data()), 0);
    m.tile_offsets.resize(grid.tile_count());
    std::size_t offset = 0;
    for (std::size_t ti = 0; ti < grid.tiles_r(); ++ti)
        for (std::size_t tj = 0; tj < grid.tiles_c(); ++tj) {
            const std::size_t t = ti * grid.tiles_c() + tj;
            m.tile_offsets[t] = offset;
            offset += packed_tile_bytes(grid.tile_height(ti), grid.tile_width(tj), grid.group, m.widths[t]);
        }
    // Tiles are independent: pack tile rows in parallel (large matrices take seconds otherwise).
    const std::size_t tr = grid.tiles_r();
    cpu::ThreadPool& pool = cpu::ThreadPool::shared();
    const int parts = static_cast<int>(std::min<std::size_t>(tr, static_cast<std::size_t>(pool.size())));
    pool.run(parts, [&](int part) {
        const std::size_t ti0 = tr * static_cast<std::size_t>(part) / static_cast<std::size_t>(parts);
        const std::size_t ti1 = tr * static_cast<std::size_t>(part + 1) / static_cast<std::size_t>(parts);
        for (std::size_t ti = ti0; ti < ti1; ++ti)
            for (std::size_t tj = 0; tj < grid.tiles_c(); ++tj)
                pack_tile(grid, ti, tj, m.widths[ti * grid.tiles_c() + tj], codes, scales, zeros, dense,
                          m.data.data() + m.tile_offsets[ti * grid.tiles_c() + tj]);
    });
    return m;
}

std::uint8_t packed_code(const PackedMatrixView& v, std::size_t n, std::size_t k) {
    const TileGrid& g = v.grid;
    const std::size_t ti = n / g.tile_rows, tj = k / g.tile_cols, t = ti * g.tiles_c() + tj;
    if (v.widths[t] == kDenseBits) return 0;
    const fmt::TileGeom geom{g.tile_height(ti), g.tile_width(tj), g.group, v.widths[t]};
    return static_cast<std::uint8_t>(
        fmt::tile_code(geom, v.data + v.tile_offsets[t], n - ti * g.tile_rows, k - tj * g.tile_cols));
}

std::uint16_t float_to_half(float f) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    const std::uint32_t sign = (x >> 16) & 0x8000u;
    std::uint32_t mag = x & 0x7fffffffu;
    if (mag >= 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7c00u | (mag > 0x7f800000u ? 0x200u : 0u));
    if (mag >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to inf
    if (mag < 0x38800000u) {                                                    // subnormal half or zero
        if (mag < 0x33000000u) return static_cast<std::uint16_t>(sign);
        const int e = static_cast<int>(mag >> 23);
        std::uint32_t m = (mag & 0x7fffffu) | 0x800000u;
        const int shift = 126 - e;  // 14 - (e - 112)
        std::uint32_t h = m >> shift;
        const std::uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u))) ++h;
        return static_cast<std::uint16_t>(sign | h);
    }
    std::uint32_t h = ((mag - 0x38000000u) >> 13);
    const std::uint32_t rem = mag & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
    return static_cast<std::uint16_t>(sign | h);
}

float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = (static_cast<std::uint32_t>(h) & 0x8000u) << 16;
    const std::uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    std::uint32_t x;
    if (e == 0) {
        if (m == 0) {
            x = sign;
        } else {  // subnormal: normalise
            int ee = -1;
            std::uint32_t mm = m;
            do { ++ee; mm <<= 1; } while (!(mm & 0x400u));
            x = sign | ((112u - static_cast<std::uint32_t>(ee)) << 23) | ((mm & 0x3ffu) << 13);
        }
    } else if (e == 31) {
        x = sign | 0x7f800000u | (m << 13);
    } else {
        x = sign | ((e + 112u) << 23) | (m << 13);
    }
    float f;
    std::memcpy(&f, &x, 4);
    return f;
}

}  // namespace scalebits::kernels
