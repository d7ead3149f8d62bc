// Batch 1..8 GEMV reading the packed tiles directly.
//
// Grid: x = tile row, y = a contiguous range of tile columns (split-K so that there are enough
// blocks to fill the GPU). One thread per tile row (blockDim = tile_rows rounded to 32): for a
// chunk, thread `row` loads its B 16-byte vectors at ((j * B + v) * r + row) * 16, so a warp reads
// 512 contiguous bytes per load. The tile's width is read once per tile and is the same for the
// whole block, so the switch below never diverges inside a warp. Activations of the column range
// sit in shared memory as fp16 and are read as half2 broadcasts. Codes become fp16 with the magic
// number trick: (0x6400 | q) is the half 1024 + q, minus (1024 + zero) is exactly q - zero, times
// the scale gives the fp16 weight. Products are summed in half2 over 16 columns, then in fp32, and
// each block adds its partial sums to y with atomicAdd (y is zeroed first).
#include "common.cuh"
#include "gemv.cuh"

#include <algorithm>

namespace scalebits::kernels::cuda {

namespace {

constexpr int kMaxBatch = 8;

__host__ __device__ __forceinline__ std::size_t umin(std::size_t a, std::size_t b) { return a < b ? a : b; }

template <int B, int NB>
__device__ __forceinline__ void tile_chunks(const std::uint8_t* tile, std::size_t r, std::size_t c, std::size_t g,
                                            std::size_t row, const half2* xs, std::size_t xs_stride2, float (&acc)[NB]) {
    const TileSections sec = packed_tile_sections(r, c, g, B);
    const std::uint8_t* scales = tile + sec.payload;
    const std::uint8_t* zeros = scales + sec.scales;
    const std::size_t nc = c / 128;
    std::size_t next_group_col = 0, gi = 0;
    half2 s2 = __float2half2_rn(0.0f), zz2 = s2;
    for (std::size_t j = 0; j < nc; ++j) {
        uint4 v[B];
#pragma unroll
        for (int i = 0; i < B; ++i)
            v[i] = __ldg(reinterpret_cast<const uint4*>(tile + fmt::vector_offset(r, B, j, i, row)));
        half2 part[NB];
#pragma unroll
        for (int b = 0; b < NB; ++b) part[b] = __float2half2_rn(0.0f);
        auto slot = [&](auto s_const) {
            constexpr int S = decltype(s_const)::value;
            const std::size_t col = 128 * j + 8 * S;
            if (col >= next_group_col) {  // uniform across the warp: every thread is at the same column
                gi = col / g;
                next_group_col = (gi + 1) * g;
                s2 = __half2half2(tile_scale(scales, gi, r, row));
                zz2 = __float2half2_rn(1024.0f + static_cast<float>(tile_zero(zeros, gi, r, row, B)));
            }
#pragma unroll
            for (int w = 0; w < 4; ++w) {
                const std::uint32_t q = code_pair<B, S>(v, w) | 0x64006400u;
                half2 h;
                *reinterpret_cast<std::uint32_t*>(&h) = q;
                const half2 wv = __hmul2(__hsub2(h, zz2), s2);
#pragma unroll
                for (int b = 0; b < NB; ++b) part[b] = __hfma2(wv, xs[b * xs_stride2 + col / 2 + w], part[b]);
            }
            if (S % 2 == 1) {  // 16 columns summed in half2: move them to fp32
#pragma unroll
                for (int b = 0; b < NB; ++b) {
                    const float2 f = __half22float2(part[b]);
                    acc[b] += f.x + f.y;
                    part[b] = __float2half2_rn(0.0f);
                }
            }
        };
        unroll16(slot);
    }
    // Tail columns (tile width not a multiple of 128): dense bitstream, scalar fp32.
    const std::size_t tail = c % 128;
    for (std::size_t col = nc * 128; col < c; ++col) {
        const std::size_t gcol = col / g;
        const float s = __half2float(tile_scale(scales, gcol, r, row));
        const float z = static_cast<float>(tile_zero(zeros, gcol, r, row, B));
        const float q = static_cast<float>(
            fmt::read_bits(tile + r * nc * B * 16, (row * tail + (col - nc * 128)) * B, B));
        const float wv = s * (q - z);
        const half* xh = reinterpret_cast<const half*>(xs);
#pragma unroll
        for (int b = 0; b < NB; ++b) acc[b] += wv * __half2float(xh[b * 2 * xs_stride2 + col]);
    }
}

// NB is the batch rounded up to 1, 2, 4 or 8 (fewer instantiations, shorter builds); rows of x
// past `batch` read as zero and their outputs are not written.
template <int NB>
__global__ void gemv_kernel(DeviceMatrix m, const half* __restrict__ x, int batch, float* __restrict__ y,
                            std::size_t tiles_per_block) {
    extern __shared__ half2 xs[];
    const std::size_t ti = blockIdx.x;
    const std::size_t tj0 = blockIdx.y * tiles_per_block;
    const std::size_t tj1 = umin(m.tiles_c, tj0 + tiles_per_block);
    if (tj0 >= tj1) return;
    const std::size_t col0 = tj0 * m.tile_cols, col1 = umin(m.cols, tj1 * m.tile_cols);
    const std::size_t span = col1 - col0;
    const std::size_t stride2 = (tiles_per_block * m.tile_cols + 1) / 2;  // half2 per batch row
    half* xh = reinterpret_cast<half*>(xs);
    for (int b = 0; b < NB; ++b)
        for (std::size_t i = threadIdx.x; i < span; i += blockDim.x)
            xh[b * 2 * stride2 + i] = b < batch ? x[b * m.cols + col0 + i] : __float2half(0.0f);
    __syncthreads();

    const std::size_t r = tile_extent(m.rows, m.tile_rows, ti);
    const std::size_t row = threadIdx.x;
    if (row >= r) return;
    float acc[NB];
#pragma unroll
    for (int b = 0; b < NB; ++b) acc[b] = 0.0f;
    for (std::size_t tj = tj0; tj < tj1; ++tj) {
        const std::size_t t = ti * m.tiles_c + tj;
        const std::uint8_t* tile = m.data + m.offsets[t];
        const std::size_t c = tile_extent(m.cols, m.tile_cols, tj);
        const half2* xt = xs + (tj - tj0) * m.tile_cols / 2;
        switch (m.widths[t]) {  // the same for the whole block
            case 2: tile_chunks<2, NB>(tile, r, c, m.group, row, xt, stride2, acc); break;
            case 3: tile_chunks<3, NB>(tile, r, c, m.group, row, xt, stride2, acc); break;
            case 4: tile_chunks<4, NB>(tile, r, c, m.group, row, xt, stride2, acc); break;
            case 5: tile_chunks<5, NB>(tile, r, c, m.group, row, xt, stride2, acc); break;
            case 6: tile_chunks<6, NB>(tile, r, c, m.group, row, xt, stride2, acc); break;
            case 7: tile_chunks<7, NB>(tile, r, c, m.group, row, xt, stride2, acc); break;
            default: tile_chunks<8, NB>(tile, r, c, m.group, row, xt, stride2, acc); break;
        }
    }
    const std::size_t n = ti * m.tile_rows + row;
#pragma unroll
    for (int b = 0; b < NB; ++b)
        if (b < batch) atomicAdd(y + b * m.rows + n, acc[b]);
}

template <int NB>
void launch(const DeviceMatrix& m, const half* x, int batch, float* y, cudaStream_t stream, int sms) {
    const std::size_t tiles_r = (m.rows + m.tile_rows - 1) / m.tile_rows;
    // Enough blocks for ~8 per SM, but no more tiles per block than the shared memory allows.
    const std::size_t want_blocks = static_cast<std::size_t>(std::max(sms, 1)) * 8;
    std::size_t splits = std::min(m.tiles_c, std::max<std::size_t>(1, (want_blocks + tiles_r - 1) / tiles_r));
    std::size_t tpb = (m.tiles_c + splits - 1) / splits;
    const std::size_t max_smem = 48 * 1024;
    while (tpb > 1 && NB * (tpb * m.tile_cols + 1) / 2 * 4 > max_smem) --tpb;
    splits = (m.tiles_c + tpb - 1) / tpb;
    const std::size_t smem = NB * ((tpb * m.tile_cols + 1) / 2) * sizeof(half2);
    if (smem > max_smem) throw std::runtime_error("CUDA GEMV: tile columns too wide for shared memory");
    const unsigned threads = static_cast<unsigned>((m.tile_rows + 31) / 32 * 32);
    gemv_kernel<NB><<<dim3(static_cast<unsigned>(tiles_r), static_cast<unsigned>(splits)), threads, smem, stream>>>(m, x, batch, y, tpb);
    check(cudaGetLastError(), "GEMV kernel launch");
}

}  // namespace

void gemv(const DeviceMatrix& m, const void* x, int batch, float* y, cudaStream_t stream, int sms) {
    check(cudaMemsetAsync(y, 0, static_cast<std::size_t>(batch) * m.rows * sizeof(float), stream), "cudaMemsetAsync");
    const half* xh = static_cast<const half*>(x);
    if (batch == 1)
        launch<1>(m, xh, batch, y, stream, sms);
    else if (batch == 2)
        launch<2>(m, xh, batch, y, stream, sms);
    else if (batch <= 4)
        launch<4>(m, xh, batch, y, stream, sms);
    else if (batch <= kMaxBatch)
        launch<8>(m, xh, batch, y, stream, sms);
    else
        throw std::runtime_error("CUDA GEMV handles batch 1..8");
}

int gemv_max_batch() { return kMaxBatch; }

}  // namespace scalebits::kernels::cuda
