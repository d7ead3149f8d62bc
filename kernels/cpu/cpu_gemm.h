// Private: the pieces of the optimized CPU GEMM shared by the driver (gemm_cpu.cpp) and the
// per-ISA tile kernels (gemm_avx2.cpp is compiled with -mavx2 -mfma only).
#pragma once

#include "format.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace scalebits::kernels::cpu {

// Activations are permuted inside every full 128-column chunk of a tile into the order of the
// 16-bit code lanes the AVX2 kernel extracts per step s (0..7): [slot s | slot s+8], i.e. columns
// 8s..8s+7 then 8s+64..8s+71.
static inline int permuted_position(int cc) {
    const int slot = cc / 8, lane = cc % 8;
    return 16 * (slot % 8) + 8 * (slot / 8) + lane;
}

// One tile's work for the chunk kernels: add scale_g * sum_{k in chunk part of g} q_k x_k into acc.
struct TileArgs {
    const std::uint8_t* tile = nullptr;
    fmt::TileGeom geom{};
    const float* x = nullptr;    // permuted activations at the tile's first column, batch item 0
                                 // (for chunks_generic; nullptr where the driver runs another kernel)
    std::size_t x_stride = 0;    // elements between batch items (x and xq)
    // The same activations rounded to int16 per 128-column chunk: x ~= xq * xscale[chunk], with
    // xscale = max|x| / 32767 (relative error <= 2^-16 of the chunk's largest |x|). The AVX2 kernel
    // multiplies 16-bit codes by them with vpmaddwd: exact integer sums, no per-weight conversion.
    // A tail that int16_tail_fits has its own rounding here, in natural order (tail_xscale below).
    const std::int16_t* xq = nullptr;
    const float* xscale = nullptr;  // xscale[b * xscale_stride + chunk], chunk = column / 128
    // For the byte kernels (VNNI, AVX2 bytes): per chunk 256 bytes (xh and xl of 15-bit activations
    // in their step order, see byte_decode.h) at byte 2 * column, and x8scale = max|x| / 16383.
    // A call can prepare both forms: the AVX2 byte kernel leaves 8-bit tiles to the int16 kernel.
    const std::int8_t* x8 = nullptr;
    std::size_t x8_stride = 0;  // bytes between batch items
    const float* x8scale = nullptr;
    std::size_t xscale_stride = 0;  // of xscale and x8scale
    // The scale of this tile's int16 tail activations (at xq + the tail's first column, see
    // int16_tail_fits), batch item b at tail_xscale[b * tail_xscale_stride]; nullptr where the call
    // prepared no int16 tail. Set for every tile of a call that has one: only the tiles whose tail
    // int16_tail_fits have their slot filled, and only those read it.
    const float* tail_xscale = nullptr;
    std::size_t tail_xscale_stride = 0;  // of tail_xscale and tail_x8scale
    // The same for a tail that byte_tail_fits on the VBMI path: its 15-bit activations at x8 + 2 * the
    // tail's first column, [xh of its n columns | xl of them] in natural order.
    const float* tail_x8scale = nullptr;
    std::size_t col0 = 0;           // first column of the tile (to index xscale)
    int batch = 1;
    // Accumulators, 8 floats per (row, batch item): acc[(row * batch + b) * 8 + lane]. The AVX2
    // kernel adds whole vectors (scale * partial sums) so it never reduces horizontally inside the
    // tile row; scalar code adds to lane 0. The driver sums the 8 lanes once per output.
    float* acc = nullptr;
    // Zero-point term sum_g s_g z_g sum_{k in g} x_k, per batch item and row: zacc[b * r + row]
    // (subtracted at the end; tail_vbmi subtracts its sums from it, which is the same as adding them
    // to acc). xsum[b * xsum_stride + gi]: activation sums of the tile's groups.
    float* zacc = nullptr;
    const float* xsum = nullptr;
    std::size_t xsum_stride = 0;
    // The tile this thread reads next (nullptr at the end): the VNNI kernel prefetches it line by line
    // while it works through this one. A tile's b planes are short streams (r * 16 bytes each) that
    // the hardware prefetchers only pick up after several misses, at every tile.
    const std::uint8_t* next_tile = nullptr;
    std::size_t next_tile_bytes = 0;
};
inline constexpr int kAccLanes = 8;

// The next tile (TileArgs::next_tile) prefetched line by line while a kernel works through this one:
// the same number of lines at each of its steps of `rows_per_step` rows, spread over the tile's
// nc * r row passes. Only the first batch block prefetches. The last step may touch a few lines past
// the tile: prefetches never fault.
class NextTilePrefetch {
public:
    NextTilePrefetch(const TileArgs& a, int b0, std::size_t rows_per_step) {
        if (b0 != 0 || a.next_tile == nullptr) return;
        tile_ = reinterpret_cast<const char*>(a.next_tile);
        bytes_ = a.next_tile_bytes;
        const std::size_t passes = a.geom.nc() * a.geom.r;
        per_step_ = (rows_per_step * ((bytes_ + 63) / 64) + passes - 1) / passes;
    }
    void step() {
        if (done_ >= bytes_) return;
        for (std::size_t k = 0; k < per_step_; ++k) __builtin_prefetch(tile_ + done_ + 64 * k, 0, 3);
        done_ += 64 * per_step_;
    }

private:
    const char* tile_ = nullptr;
    std::size_t bytes_ = 0, done_ = 0, per_step_ = 0;
};

// The chunk kernels are templates over the width B (2..8) and the batch block NB (1..4). Calls
// kernel(integral_constant<B>, integral_constant<NB>, b0) over blocks of 4 batch items, then the
// rest; returns false for a width no template covers. Larger batches decode a chunk again per
// block, which is cheap next to the products it feeds, and 4 items keep the accumulators and
// the decoded codes in registers.
template <class Kernel>
bool run_width_and_batch_blocks(int width, int batch, Kernel&& kernel) {
    auto blocks = [&](auto B) {
        int b0 = 0;
        for (; b0 + 4 <= batch; b0 += 4) kernel(B, std::integral_constant<int, 4>{}, b0);
        switch (batch - b0) {
            case 3: kernel(B, std::integral_constant<int, 3>{}, b0); break;
            case 2: kernel(B, std::integral_constant<int, 2>{}, b0); break;
            case 1: kernel(B, std::integral_constant<int, 1>{}, b0); break;
            default: break;
        }
    };
    switch (width) {
        case 2: blocks(std::integral_constant<int, 2>{}); return true;
        case 3: blocks(std::integral_constant<int, 3>{}); return true;
        case 4: blocks(std::integral_constant<int, 4>{}); return true;
        case 5: blocks(std::integral_constant<int, 5>{}); return true;
        case 6: blocks(std::integral_constant<int, 6>{}); return true;
        case 7: blocks(std::integral_constant<int, 7>{}); return true;
        case 8: blocks(std::integral_constant<int, 8>{}); return true;
        default: return false;
    }
}

// Portable chunk kernel and zero-point term (any machine).
void chunks_generic(const TileArgs& a);
// The outputs of rows [row0, r) of one tile row: y[b * N + row] = the sum of the row's 8 accumulator
// lanes (TileArgs::acc) minus its zero-point term (zacc); both are set back to 0 for the next tile
// row. Portable; tile_row_outputs_avx2 below does eight rows at a time and leaves the rest to it.
void tile_row_outputs(float* acc, float* zacc, std::size_t row0, std::size_t r, int batch, float* y, std::size_t N);
void zero_terms_generic(const TileArgs& a);
void zero_terms_avx2(const TileArgs& a);
// AVX2+FMA chunk kernel; needs geom.g % 8 == 0 (checked by the caller).
void chunks_avx2(const TileArgs& a);
// The same kernel with AVX-512VL + VNNI instructions (vpternlogd, vpdpwssd) on 256-bit registers.
void chunks_avx512vl(const TileArgs& a);

// AVX-512 VNNI chunk kernel; needs geom.g == 64 or a multiple of 128 (checked by the caller).
void chunks_vnni(const TileArgs& a);
// AVX2 byte kernel (gemm_bytes_avx2.cpp), same groups as chunks_vnni, batch 1, widths up to
// kAvx2BytesMaxWidth: its vpmaddubsw sums two products in int16, which 8-bit codes could overflow.
// Other tiles and batches go to chunks_avx2 (the caller prepares xq for them). Its gain is the
// decode; its products cost more than vpmaddwd's (two vpmaddubsw and their widening per 32 codes
// against two vpmaddwd), so once a batch block shares the decode it is no longer ahead. Kernel
// alone on a Zen 3, from memory, against chunks_avx2: batch 1, widths 2..6 1.2-1.7x, 7 1.07-1.14x;
// batch 2..4 0.77-1.9x depending on the width (2, 3, 5 and 7 bits mostly slower).
inline constexpr int kAvx2BytesMaxWidth = 7;
void chunks_avx2_bytes(const TileArgs& a);

// One 128-column chunk x of activations rounded per chunk (activations_avx2.cpp; AVX2, called only
// where a kernel that reads them runs): the chunk's scale, and for the int16 kernels 128 int16 in
// the order of permuted_position (scale max|x| / 32767), for the byte kernels 256 bytes (scale
// max|x| / 16383; see TileArgs::x8).
void int16_chunk_activations(const float* x, float* scale_out, std::int16_t* out);
void byte_chunk_activations(const float* x, float* scale_out, std::int8_t* out);
// A tile's tail columns (n of them, see int16_tail_fits) rounded the same way as the int16 chunks,
// in natural order (TileArgs::xq at the tail's columns, TileArgs::tail_xscale).
void int16_tail_activations(const float* x, std::size_t n, float* scale_out, std::int16_t* out);

// A tile's tail columns (n of them, see byte_tail_fits) split into 15-bit bytes for tail_vbmi:
// out[0, n) the xh and out[n, 2n) the xl of each column in natural order (scale max|x| / 16383).
void byte_tail_activations(const float* x, std::size_t n, float* scale_out, std::int8_t* out);

// The VBMI path (tail_vbmi.cpp, AVX-512 VNNI + VBMI): zero-point terms of any tile (edge tiles whose
// height is not a multiple of 8 go to zero_terms_avx2), and the tail of a tile tile_width columns
// wide where byte_tail_fits: at most 64 columns, a multiple of 8 (each row's codes start on a byte),
// all in one group. The tail's sums are subtracted from zacc.
void zero_terms_vbmi(const TileArgs& a);
void tail_vbmi(const TileArgs& a);
inline bool byte_tail_fits(std::size_t tile_width, std::size_t group) {
    const std::size_t tail = tile_width % 128, c0 = tile_width - tail;
    return tail > 0 && tail <= 64 && tail % 8 == 0 && c0 / group == (c0 + tail - 1) / group;
}

// Whether the AVX2 tail path takes a tile's tail as int16 integer products (tail_avx2.cpp): each row's
// tail then starts on a byte (b * tail bits a row) and 16-column steps never straddle a group.
// Other tails keep the float path on natural-order activations.
inline bool int16_tail_fits(std::size_t tail, std::size_t group) { return tail > 0 && tail % 8 == 0 && group % 16 == 0; }

// The tail columns of a tile (its width mod 128) and a whole tile kept at fp16, added to lane 0..7 of
// the accumulators from natural-order activations x_nat (K between batch items). AVX2 + FMA + F16C.
// A tail that int16_tail_fits reads the int16 tail activations instead (TileArgs::xq, tail_xscale).
void tail_terms_avx2(const TileArgs& a, const float* x_nat, std::size_t K);
void dense_tile_terms_avx2(const TileArgs& a, const float* x_nat, std::size_t K);

// Dense fp32 rows [n0, n1) of y = W x (AVX2); and the sum of a float buffer (bandwidth probe).
void f32_rows_avx2(const float* W, std::size_t K, const float* x, int batch, std::size_t N, std::size_t n0,
                   std::size_t n1, float* y);
float sum_avx2(const float* p, std::size_t n);
// Rows [n0, n1) of y = W x for fp16 W (F16C + FMA).
void f16_rows_avx2(const std::uint16_t* W, std::size_t K, const float* x, int batch, std::size_t N, std::size_t n0,
                   std::size_t n1, float* y);
std::uint64_t or_reduce_avx2(const std::uint8_t* p, std::size_t n);
// tile_row_outputs of all r rows, eight rows at a time.
void tile_row_outputs_avx2(float* acc, float* zacc, std::size_t r, int batch, float* y, std::size_t N);

}  // namespace scalebits::kernels::cpu
