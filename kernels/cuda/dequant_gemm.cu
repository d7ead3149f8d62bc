// Batch > 8: dequantize the tiles into an fp16 scratch matrix, then one cublasGemmEx. At these
// batch sizes the GEMM is no longer bound by reading the weights, so the extra pass is cheap
// relative to the tensor-core GEMM it enables.
#include "gemv.cuh"

namespace scalebits::kernels::cuda {

namespace {

// One block per tile, one thread per row; each thread writes 8 columns (16 bytes) at a time.
template <int B>
__device__ void dequant_tile(const std::uint8_t* tile, std::size_t r, std::size_t c, std::size_t g, std::size_t row,
                             half* out_row) {
    const TileSections sec = packed_tile_sections(r, c, g, B);
    const std::uint8_t* scales = tile + sec.payload;
    const std::uint8_t* zeros = scales + sec.scales;
    const std::size_t nc = c / 128;
    for (std::size_t j = 0; j < nc; ++j) {
        uint4 v[B];
#pragma unroll
        for (int i = 0; i < B; ++i) v[i] = __ldg(reinterpret_cast<const uint4*>(tile + fmt::vector_offset(r, B, j, i, row)));
        auto slot = [&](auto s_const) {
            constexpr int S = decltype(s_const)::value;
            const std::size_t col = 128 * j + 8 * S;
            const std::size_t gi = col / g;
            const half2 s2 = __half2half2(tile_scale(scales, gi, r, row));
            const half2 zz2 = __float2half2_rn(1024.0f + static_cast<float>(tile_zero(zeros, gi, r, row, B)));
            uint4 out;
            std::uint32_t* o = reinterpret_cast<std::uint32_t*>(&out);
#pragma unroll
            for (int w = 0; w < 4; ++w) {
                const std::uint32_t q = code_pair<B, S>(v, w) | 0x64006400u;
                half2 h;
                *reinterpret_cast<std::uint32_t*>(&h) = q;
                const half2 wv = __hmul2(__hsub2(h, zz2), s2);
                o[w] = *reinterpret_cast<const std::uint32_t*>(&wv);
            }
            // 16-byte store when the destination is aligned (K a multiple of 8), else halves.
            half* dst = out_row + col;
            if ((reinterpret_cast<std::uintptr_t>(dst) & 15u) == 0) {
                *reinterpret_cast<uint4*>(dst) = out;
            } else {
                const half* hv = reinterpret_cast<const half*>(&out);
                for (int i = 0; i < 8; ++i) dst[i] = hv[i];
            }
        };
        unroll16(slot);
    }
    const std::size_t tail = c % 128;
    for (std::size_t col = nc * 128; col < c; ++col) {
        const std::size_t gi = col / g;
        const float s = __half2float(tile_scale(scales, gi, r, row));
        const float z = static_cast<float>(tile_zero(zeros, gi, r, row, B));
        const float q = static_cast<float>(fmt::read_bits(tile + r * nc * B * 16, (row * tail + (col - nc * 128)) * B, B));
        // Same rounding as the chunk path: (q - z) is exact in fp16, one rounding for the product.
        out_row[col] = __hmul(__float2half_rn(q - z), __float2half_rn(s));
    }
}

__global__ void dequant_kernel(DeviceMatrix m, half* w) {
    const std::size_t ti = blockIdx.x, tj = blockIdx.y;
    const std::size_t r = tile_extent(m.rows, m.tile_rows, ti), c = tile_extent(m.cols, m.tile_cols, tj);
    const std::size_t row = threadIdx.x;
    if (row >= r) return;
    const std::size_t t = ti * m.tiles_c + tj;
    const std::uint8_t* tile = m.data + m.offsets[t];
    half* out_row = w + (ti * m.tile_rows + row) * m.cols + tj * m.tile_cols;
    switch (m.widths[t]) {  // uniform across the block
        case 2: dequant_tile<2>(tile, r, c, m.group, row, out_row); break;
        case 3: dequant_tile<3>(tile, r, c, m.group, row, out_row); break;
        case 4: dequant_tile<4>(tile, r, c, m.group, row, out_row); break;
        case 5: dequant_tile<5>(tile, r, c, m.group, row, out_row); break;
        case 6: dequant_tile<6>(tile, r, c, m.group, row, out_row); break;
        case 7: dequant_tile<7>(tile, r, c, m.group, row, out_row); break;
        default: dequant_tile<8>(tile, r, c, m.group, row, out_row); break;
    }
}

}  // namespace

void check_cublas(cublasStatus_t s, const char* what) {
    if (s != CUBLAS_STATUS_SUCCESS)
        throw std::runtime_error(std::string("cuBLAS error in ") + what + ": " + cublasGetStatusString(s));
}

void dequantize_to_half(const DeviceMatrix& m, half* w, cudaStream_t stream) {
    const std::size_t tiles_r = (m.rows + m.tile_rows - 1) / m.tile_rows;
    const unsigned threads = static_cast<unsigned>((m.tile_rows + 31) / 32 * 32);
    dequant_kernel<<<dim3(static_cast<unsigned>(tiles_r), static_cast<unsigned>(m.tiles_c)), threads, 0, stream>>>(m, w);
    check(cudaGetLastError(), "dequantize kernel launch");
}

void gemm_cublas(cublasHandle_t handle, const half* w, std::size_t N, std::size_t K, const half* x, int batch, float* y) {
    // Column-major view: Y (N x batch) = W^T' ... W row-major N x K is K x N column-major, so
    // Y = op(A) * B with A = W (lda = K, transposed), B = X (K x batch, ldb = K), C = Y (ldc = N).
    const float alpha = 1.0f, beta = 0.0f;
    check_cublas(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(N), batch, static_cast<int>(K), &alpha,
                              w, CUDA_R_16F, static_cast<int>(K), x, CUDA_R_16F, static_cast<int>(K), &beta, y, CUDA_R_32F,
                              static_cast<int>(N), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx");
}

}  // namespace scalebits::kernels::cuda
