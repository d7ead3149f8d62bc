// scalebits_kernels: the packed mixed-width tile format and the GEMV/GEMM kernels that read it.
//
// Plain types only (pointers, sizes, an opaque stream handle): no CUDA, no LibTorch, no Qt, so the
// library builds and benchmarks on its own (kernels/CMakeLists.txt is also a top-level project).
//
// Packed format (one quantized matrix W, N rows = outputs, K columns = inputs):
// - W is cut into tiles of tile_rows x tile_cols (edge tiles smaller), stored in row-major tile order.
//   Each tile has ONE width b in 2..8 (the width map), and starts at tile_offsets[t] inside data.
// - Inside a tile, groups of `group` consecutive columns of one row share an fp16 scale and a b-bit
//   zero point: w = scale * (q - zero), q and zero in [0, 2^b - 1]. group divides tile_cols.
// - A tile is three 16-byte aligned sections: payload (the codes), scales, zeros. Their sizes are
//   fixed by packed_tile_bytes() below, which the allocator's cost model uses too.
// - Payload layout (chosen for 16-byte loads; see kernels/cpu/format.h for the full description):
//   every row is cut into 128-column chunks. A chunk of one row is b 16-byte vectors; a b-bit code
//   is split into power-of-two parts (3 = 2+1, 5 = 4+1, 6 = 4+2, 7 = 4+2+1, 8 = 4+4) and each part
//   is a plane of p vectors. Vectors are stored [chunk][vector][row] so that 32 GPU threads (one per
//   row) read 512 contiguous bytes per load. Columns left over when a tile is not a multiple of 128
//   wide are a dense LSB-first bitstream after the chunks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace scalebits::kernels {

inline constexpr int kMinBits = 2;
inline constexpr int kMaxBits = 8;
// A tile "kept at fp16": its weights stored as IEEE halves, row-major, no scales or zero points. The
// top rung of the vocabulary matrices (embedding, lm_head), which an allocation may leave unquantized
// tile by tile. The CPU paths read it; the CUDA path does not (cuda_supports is false for a matrix
// holding one).
inline constexpr int kDenseBits = 16;
// A tile width the format holds: 2..8, or kDenseBits.
constexpr bool valid_tile_width(int b) { return (b >= kMinBits && b <= kMaxBits) || b == kDenseBits; }
// Per tile, outside the tile: 1 byte in the width map + 8 bytes in the offsets table.
inline constexpr std::size_t kTileHeaderBytes = 9;
// Columns per payload chunk: 128 codes of b bits are exactly b 16-byte vectors for every b.
inline constexpr int kChunkCols = 128;

constexpr std::size_t round_up16(std::size_t n) { return (n + 15) / 16 * 16; }

struct TileSections {
    std::size_t payload = 0, scales = 0, zeros = 0;
    constexpr std::size_t total() const { return payload + scales + zeros; }
};

// Section sizes of one tile with r rows, c cols, group g, width b (kDenseBits: the fp16 payload alone).
constexpr TileSections packed_tile_sections(std::size_t r, std::size_t c, std::size_t g, int b) {
    if (b == kDenseBits) return TileSections{round_up16(r * c * 2), 0, 0};
    const std::size_t ub = static_cast<std::size_t>(b);
    const std::size_t ng = r * ((c + g - 1) / g);
    return TileSections{round_up16((r * c * ub + 7) / 8), round_up16(2 * ng), round_up16((ng * ub + 7) / 8)};
}

// Bytes of one packed tile (without its 9 header bytes).
constexpr std::size_t packed_tile_bytes(std::size_t r, std::size_t c, std::size_t g, int b) {
    return packed_tile_sections(r, c, g, b).total();
}

// The shape of a tiled matrix. Tiles are numbered row-major: t = ti * tiles_c() + tj.
struct TileGrid {
    std::size_t rows = 0, cols = 0;            // N, K
    std::size_t tile_rows = 128, tile_cols = 128;
    std::size_t group = 128;                   // divides tile_cols
    // An empty tile or group (a grid not yet validated) gives no tiles or groups, not a division by 0.
    std::size_t tiles_r() const { return tile_rows ? (rows + tile_rows - 1) / tile_rows : 0; }
    std::size_t tiles_c() const { return tile_cols ? (cols + tile_cols - 1) / tile_cols : 0; }
    std::size_t tile_count() const { return tiles_r() * tiles_c(); }
    std::size_t tile_height(std::size_t ti) const;  // rows of tile row ti (edge tiles are smaller)
    std::size_t tile_width(std::size_t tj) const;
    std::size_t groups_per_row() const { return group ? (cols + group - 1) / group : 0; }  // global groups
    // Throws std::invalid_argument naming the problem (zero sizes, group not dividing tile_cols...).
    void validate() const;
    // From the signed sizes the rest of the project keeps; a size <= 0 becomes 0 (no tiles), not a
    // huge unsigned one.
    static TileGrid of(std::int64_t rows, std::int64_t cols, std::int64_t tile_rows, std::int64_t tile_cols,
                       std::int64_t group) {
        auto u = [](std::int64_t v) { return v > 0 ? static_cast<std::size_t>(v) : std::size_t{0}; };
        return {u(rows), u(cols), u(tile_rows), u(tile_cols), u(group)};
    }
};

// Non-owning view of one packed matrix (what a safetensors reader can point into a mapped file).
struct PackedMatrixView {
    TileGrid grid;
    const std::uint8_t* widths = nullptr;         // tile_count() entries, each 2..8
    const std::uint64_t* tile_offsets = nullptr;  // tile_count() byte offsets into data
    const std::uint8_t* data = nullptr;           // all tiles, 16-byte aligned starts
    std::size_t data_bytes = 0;
};

// Checks widths, offsets (aligned, in range, non-overlapping sizes) against the grid. Throws
// std::invalid_argument with the problem; the loader calls it before any kernel touches the data.
void validate(const PackedMatrixView& view);

// Owned packed matrix.
struct PackedMatrix {
    TileGrid grid;
    std::vector<std::uint8_t> widths;
    std::vector<std::uint64_t> tile_offsets;
    std::vector<std::uint8_t> data;
    PackedMatrixView view() const {
        return PackedMatrixView{grid, widths.data(), tile_offsets.data(), data.data(), data.size()};
    }
    // data plus the per-tile headers: the bytes the allocator predicts for this matrix.
    std::size_t total_bytes() const { return data.size() + kTileHeaderBytes * widths.size(); }
};

// Bytes of data for a grid and width map (no headers); the same sum the allocator computes.
std::size_t packed_data_bytes(const TileGrid& grid, const std::uint8_t* widths);

// Packs codes chosen by a quantizer. codes: N*K, row-major, q[n][k] < 2^b(tile of (n,k)).
// scales, zeros: N * grid.groups_per_row(), row-major [n][k / group]; zero < 2^b; scales are
// stored as fp16 (rounded to nearest). dense: N*K weights, row-major, read for the tiles of width
// kDenseBits (stored rounded to fp16; may be null when there are none). Throws
// std::invalid_argument on out-of-range input.
PackedMatrix pack_matrix(const TileGrid& grid, const std::uint8_t* widths, const std::uint8_t* codes,
                         const float* scales, const std::uint8_t* zeros, const float* dense = nullptr);

// Convenience for tests and benchmarks: round-to-nearest with per-group min/max (asymmetric).
PackedMatrix quantize_rtn_minmax(const TileGrid& grid, const std::uint8_t* widths, const float* W);

// Rows [first, first + count) of the matrix, dequantized (dequantize_reference's values): an
// embedding lookup of a packed vocabulary matrix. out: count * K floats.
void dequantize_rows(const PackedMatrixView& view, std::size_t first, std::size_t count, float* out);

// The code q[n][k] read back from the packed tiles (reference unpack, used by tests; 0 in a tile of
// width kDenseBits, which holds no codes).
std::uint8_t packed_code(const PackedMatrixView& view, std::size_t n, std::size_t k);

// ---- CPU reference: the definition of correct ----
// out: N*K floats, w = fp16(scale) * (q - zero).
void dequantize_reference(const PackedMatrixView& view, float* out);
// y[b][n] = sum_k W[n][k] * x[b][k], fp32 accumulation in k order. x: batch*K, y: batch*N.
void gemm_reference(const PackedMatrixView& view, const float* x, int batch, float* y);

// ---- CPU optimized: AVX-512 VNNI / AVX2 (runtime dispatch) and threads, reading the tiles ----
// Same result as gemm_reference for batch >= 1 within rounding: inside full 128-column chunks the
// activations are rounded per chunk to integers, 15 bits in the byte kernels (AVX-512 VNNI; AVX2
// for widths 2..7 at batch 1) or 16 bits (the others), an error of at most half a step: 1/32766
// (a hair above 2^-15) or 1/65534 of the chunk's largest |x| (a chunk whose largest |x| is below
// 2^-64 counts as zero), and q * x is summed exactly in int32; scales and zero points are fp32.
// Tails (columns past the tile's last full chunk) are rounded like chunks where their columns allow
// (15 bits with AVX-512 VBMI for at most 64 columns in one group, else 16) and fp32 otherwise.
// A NaN or infinite activation makes the outputs NaN, as in the reference.
// threads <= 0: all hardware threads. SCALEBITS_CPU_PATH=avx512vnni|avx512|avx2-bytes|avx2|generic
// caps the dispatch (tests): avx512vnni stops below the VBMI tails and zero points, avx512 below the
// VNNI byte kernel, avx2-bytes at the AVX2 byte kernel, avx2 below it.
void gemm_cpu(const PackedMatrixView& view, const float* x, int batch, float* y, int threads = 0);
// Whether two grids split their columns alike (cols, tile width, group): then one prepared activation
// vector serves both, which gemm_cpu_many needs.
inline bool same_columns(const TileGrid& a, const TileGrid& b) {
    return a.cols == b.cols && a.tile_cols == b.tile_cols && a.group == b.group;
}
// Several products of the same activations in one call (a decoder's q, k and v, or gate and up):
// ys[m] = views[m] * x. The matrices must have the same_columns (std::invalid_argument
// otherwise). The activations are prepared once and all tile rows go to the threads as one list, so
// the pool is woken once instead of once per matrix. Results equal gemm_cpu's per matrix, bit for bit.
void gemm_cpu_many(const PackedMatrixView* const* views, int count, const float* x, int batch, float* const* ys,
                   int threads = 0);
// Dense FP32 baseline for benchmarks: y[b][n] = sum_k W[n][k] x[b][k], W row-major N x K.
void gemm_f32_cpu(const float* W, std::size_t N, std::size_t K, const float* x, int batch, float* y, int threads = 0);
// Dense fp16 weights (IEEE binary16 bits, row-major N x K), for the unquantized vocabulary matrices
// of an exported model: y[b][n] = sum_k half_to_float(W[n][k]) * x[b][k]. The reference sums in k
// order in fp32; gemm_f16_cpu (F16C + FMA where the CPU has them, threads over rows) sums in eight
// fp32 lanes, so the two agree within fp32 rounding of the sum.
void gemm_f16_reference(const std::uint16_t* W, std::size_t N, std::size_t K, const float* x, int batch, float* y);
void gemm_f16_cpu(const std::uint16_t* W, std::size_t N, std::size_t K, const float* x, int batch, float* y,
                  int threads = 0);
// Runs fn(part) for part in 0..parts-1 on the kernels' thread pool, the calling thread included, and
// returns when all are done (the first exception is rethrown). For work around the kernels (a
// decoder's attention, norms) that should not pay a second pool's wake-ups. One call at a time.
void parallel_for(int parts, const std::function<void(int)>& fn);
// Threads of that pool (the hardware's).
int cpu_threads();
// Read bandwidth of this machine in GB/s: `threads` threads summing a buffer of `bytes`.
double cpu_read_bandwidth_gbps(std::size_t bytes, int threads, int iters);
// Streams `bytes` of `data` through the same threads the kernels use (an OR over 32-byte loads)
// and returns the wall time in microseconds: the read ceiling for that buffer, measured next to a
// kernel run on a machine whose bandwidth drifts (shared hosts).
double cpu_stream_read_us(const std::uint8_t* data, std::size_t bytes, int threads);
// "avx512vbmi-bytes", "avx512vnni-bytes", "avx512vl+vnni", "avx2-bytes", "avx2+fma" or "generic":
// the path gemm_cpu takes here (for groups, widths or batches the byte kernels do not take, the next
// one down).
std::string cpu_path();
// True when SCALEBITS_CPU_PATH names a path this CPU (or this build) lacks, so the dispatch takes a
// narrower one, or the path it takes without a cap (avx2-bytes on an AVX2 machine): a test of that
// cap would only repeat another path's test.
bool cpu_path_cap_unavailable();

// fp16 helpers (round to nearest even), so callers need no F16C or CUDA types.
std::uint16_t float_to_half(float f);
float half_to_float(std::uint16_t h);

// ---- CUDA (optional; cuda_available() is false when built without CUDA or without a device) ----
// Activations are fp16 (x: batch*K halves), outputs fp32 (y: batch*N). Each weight is formed in
// fp16 (w = (q - z) * s, exact subtraction, one rounding), products w * x are summed in half2 over
// 16 columns, then in fp32. Requires group % 8 == 0 and tile_rows <= 1024 (see cuda_supports). Batch 1..8: GEMV kernels read the packed tiles directly.
// Batch > 8: tiles are dequantized into an fp16 scratch matrix and multiplied with cublasGemmEx.
// Errors never abort: every call throws std::runtime_error with the CUDA error string.
bool cuda_available();
std::string cuda_device_name();  // "" when none
// Whether the CUDA path handles this matrix and batch (otherwise call gemm_cpu).
bool cuda_supports(const PackedMatrixView& view, int batch);

// Device memory owned by the library (so callers need no CUDA headers).
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    explicit DeviceBuffer(std::size_t bytes);
    ~DeviceBuffer();
    DeviceBuffer(DeviceBuffer&& o) noexcept;
    DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    void* get() const { return ptr_; }
    std::size_t size() const { return bytes_; }
    void upload(const void* host, std::size_t bytes, std::size_t offset = 0);
    void download(void* host, std::size_t bytes, std::size_t offset = 0) const;

private:
    void* ptr_ = nullptr;
    std::size_t bytes_ = 0;
};

// A packed matrix copied to the device, plus the scratch it needs for batch > 8.
class CudaPackedMatrix {
public:
    explicit CudaPackedMatrix(const PackedMatrixView& view);
    ~CudaPackedMatrix();
    CudaPackedMatrix(CudaPackedMatrix&&) noexcept;
    CudaPackedMatrix& operator=(CudaPackedMatrix&&) noexcept;
    const TileGrid& grid() const;
    // x_dev: batch*K fp16 on the device, y_dev: batch*N fp32 on the device. stream: cudaStream_t or
    // nullptr for the default stream. Asynchronous with respect to the host.
    void gemm(const void* x_dev, int batch, float* y_dev, void* stream = nullptr);

private:
    struct Impl;
    Impl* impl_ = nullptr;
};

// Benchmark support measured with CUDA events (used by the scalebits-kernels tool).
struct CudaTiming {
    double median_us = 0;
};
// Device-to-device cudaMemcpy bandwidth in GB/s, counting bytes read plus bytes written (2 * bytes
// per copy), i.e. the DRAM traffic the device sustains.
double cuda_copy_bandwidth_gbps(std::size_t bytes, int iters);
// Median time of gemm() over iters runs, rotating through the given matrices (to defeat L2).
CudaTiming cuda_time_gemm(std::vector<CudaPackedMatrix*> mats, const void* x_dev, int batch, float* y_dev,
                          int iters);
// Median time of an FP16 cublasGemmEx (fp32 accumulation) y = W x for an N x K weight, rotating
// enough weight copies to exceed L2.
CudaTiming cuda_time_fp16_cublas(std::size_t N, std::size_t K, int batch, int iters);

}  // namespace scalebits::kernels
