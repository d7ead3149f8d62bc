// The CPU reference: dequantize and GEMM exactly as the format defines them. Every fast path is
// tested against these functions; they favour obviousness over speed.
#include "format.h"
#include "thread_pool.h"

#include "scalebits/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace scalebits::kernels {

namespace {
float tile_scale(const fmt::TileGeom& g, const std::uint8_t* tile, std::size_t gi, std::size_t row) {
    std::uint16_t h;
    std::memcpy(&h, tile + packed_tile_sections(g.r, g.c, g.g, g.b).payload + 2 * (gi * g.r + row), 2);
    return half_to_float(h);
}
unsigned tile_zero(const fmt::TileGeom& g, const std::uint8_t* tile, std::size_t gi, std::size_t row) {
    const TileSections s = packed_tile_sections(g.r, g.c, g.g, g.b);
    return fmt::read_bits(tile + s.payload + s.scales, (gi * g.r + row) * static_cast<std::size_t>(g.b), g.b);
}
}  // namespace

void dequantize_reference(const PackedMatrixView& v, float* out) {
    validate(v);
    const TileGrid& grid = v.grid;
    // Tile rows are independent; threads only make large benchmark matrices quick to check.
    const std::size_t tr = grid.tiles_r();
    cpu::ThreadPool& pool = cpu::ThreadPool::shared();
    const int parts = static_cast<int>(std::min<std::size_t>(tr, static_cast<std::size_t>(pool.size())));
    pool.run(parts, [&](int part) {
        for (std::size_t ti = tr * static_cast<std::size_t>(part) / static_cast<std::size_t>(parts);
             ti < tr * static_cast<std::size_t>(part + 1) / static_cast<std::size_t>(parts); ++ti) {
            for (std::size_t tj = 0; tj < grid.tiles_c(); ++tj) {
                const std::size_t t = ti * grid.tiles_c() + tj;
                const fmt::TileGeom g{grid.tile_height(ti), grid.tile_width(tj), grid.group, v.widths[t]};
                const std::uint8_t* tile = v.data + v.tile_offsets[t];
                if (g.b == kDenseBits) {
                    for (std::size_t row = 0; row < g.r; ++row)
                        for (std::size_t col = 0; col < g.c; ++col) {
                            std::uint16_t h;
                            std::memcpy(&h, tile + 2 * (row * g.c + col), 2);
                            out[(ti * grid.tile_rows + row) * grid.cols + tj * grid.tile_cols + col] = half_to_float(h);
                        }
                    continue;
                }
                for (std::size_t row = 0; row < g.r; ++row) {
                    for (std::size_t col = 0; col < g.c; ++col) {
                        const std::size_t gi = col / g.g;
                        const float s = tile_scale(g, tile, gi, row);
                        const float z = static_cast<float>(tile_zero(g, tile, gi, row));
                        const float q = static_cast<float>(fmt::tile_code(g, tile, row, col));
                        out[(ti * grid.tile_rows + row) * grid.cols + tj * grid.tile_cols + col] = s * (q - z);
                    }
                }
            }
        }
    });
}

void dequantize_rows(const PackedMatrixView& v, std::size_t first, std::size_t count, float* out) {
    const TileGrid& grid = v.grid;
    if (first > grid.rows || count > grid.rows - first)
        throw std::invalid_argument("dequantize_rows: rows " + std::to_string(first) + " + " + std::to_string(count) +
                                    " outside the matrix's " + std::to_string(grid.rows));
    for (std::size_t n = first; n < first + count; ++n) {
        const std::size_t ti = n / grid.tile_rows, row = n - ti * grid.tile_rows;
        float* dst = out + (n - first) * grid.cols;
        for (std::size_t tj = 0; tj < grid.tiles_c(); ++tj) {
            const std::size_t t = ti * grid.tiles_c() + tj;
            const fmt::TileGeom g{grid.tile_height(ti), grid.tile_width(tj), grid.group, v.widths[t]};
            const std::uint8_t* tile = v.data + v.tile_offsets[t];
            for (std::size_t col = 0; col < g.c; ++col) {
                float w;
                if (g.b == kDenseBits) {
                    std::uint16_t h;
                    std::memcpy(&h, tile + 2 * (row * g.c + col), 2);
                    w = half_to_float(h);
                } else {
                    w = tile_scale(g, tile, col / g.g, row) *
                        (static_cast<float>(fmt::tile_code(g, tile, row, col)) - static_cast<float>(tile_zero(g, tile, col / g.g, row)));
                }
                dst[tj * grid.tile_cols + col] = w;
            }
        }
    }
}

void gemm_reference(const PackedMatrixView& v, const float* x, int batch, float* y) {
    if (batch < 1) throw std::invalid_argument("gemm_reference: batch must be >= 1");
    const std::size_t N = v.grid.rows, K = v.grid.cols;
    std::vector<float> W(N * K);
    dequantize_reference(v, W.data());
    for (int b = 0; b < batch; ++b) {
        const float* xb = x + static_cast<std::size_t>(b) * K;
        for (std::size_t n = 0; n < N; ++n) {
            float acc = 0.0f;
            const float* w = W.data() + n * K;
            for (std::size_t k = 0; k < K; ++k) acc += w[k] * xb[k];
            y[static_cast<std::size_t>(b) * N + n] = acc;
        }
    }
}

void gemm_f16_reference(const std::uint16_t* W, std::size_t N, std::size_t K, const float* x, int batch, float* y) {
    if (batch < 1) throw std::invalid_argument("gemm_f16_reference: batch must be >= 1");
    for (int b = 0; b < batch; ++b)
        for (std::size_t n = 0; n < N; ++n) {
            float acc = 0.0f;
            for (std::size_t k = 0; k < K; ++k) acc += half_to_float(W[n * K + k]) * x[static_cast<std::size_t>(b) * K + k];
            y[static_cast<std::size_t>(b) * N + n] = acc;
        }
}

PackedMatrix quantize_rtn_minmax(const TileGrid& grid, const std::uint8_t* widths, const float* W) {
    grid.validate();
    const std::size_t N = grid.rows, K = grid.cols, gpr = grid.groups_per_row();
    std::vector<std::uint8_t> codes(N * K), zeros(N * gpr);
    std::vector<float> scales(N * gpr);
    for (std::size_t n = 0; n < N; ++n) {
        const std::size_t ti = n / grid.tile_rows;
        for (std::size_t gi = 0; gi < gpr; ++gi) {
            const std::size_t k0 = gi * grid.group, k1 = std::min(K, k0 + grid.group);
            const int b = widths[ti * grid.tiles_c() + k0 / grid.tile_cols];
            const float qmax = static_cast<float>((1 << b) - 1);
            float lo = 0.0f, hi = 0.0f;  // include 0 so an all-positive group keeps a usable zero
            for (std::size_t k = k0; k < k1; ++k) {
                lo = std::min(lo, W[n * K + k]);
                hi = std::max(hi, W[n * K + k]);
            }
            // Round the scale to fp16 first, so codes are chosen for the scale that is stored.
            float s = (hi - lo) / qmax;
            s = half_to_float(float_to_half(s > 0.0f ? std::min(s, 65504.0f) : 1.0f));
            if (!(s > 0.0f)) s = half_to_float(float_to_half(6.1e-5f));
            const float z = std::clamp(std::nearbyint(-lo / s), 0.0f, qmax);
            scales[n * gpr + gi] = s;
            zeros[n * gpr + gi] = static_cast<std::uint8_t>(z);
            for (std::size_t k = k0; k < k1; ++k)
                codes[n * K + k] = static_cast<std::uint8_t>(std::clamp(std::nearbyint(W[n * K + k] / s) + z, 0.0f, qmax));
        }
    }
    return pack_matrix(grid, widths, codes.data(), scales.data(), zeros.data());
}

}  // namespace scalebits::kernels
