// Device discovery, device memory, and CudaPackedMatrix: uploads a packed matrix once and
// dispatches batch 1..8 to the GEMV kernels, larger batches to dequantize + cuBLAS.
#include "gemv.cuh"

#include <memory>
#include <utility>

namespace scalebits::kernels {

using cuda::check;

bool cuda_available() {
    int n = 0;
    // cudaGetDeviceCount fails without a driver or device: that is "not available", not an error.
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky error state for later calls
        return false;
    }
    return n > 0;
}

std::string cuda_device_name() {
    if (!cuda_available()) return {};
    int dev = 0;
    cudaDeviceProp p{};
    if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) return {};
    return p.name;
}

bool cuda_supports(const PackedMatrixView& v, int batch) {
    const TileGrid& g = v.grid;
    // Tiles kept at fp16 (kDenseBits) have no CUDA kernel: such a matrix runs on the CPU.
    for (std::size_t t = 0; t < g.tile_count(); ++t)
        if (v.widths[t] == kDenseBits) return false;
    // One thread per tile row; the kernels read 8 columns per step and groups must not split them.
    return batch >= 1 && g.tile_rows >= 1 && g.tile_rows <= 1024 && g.tile_cols % 8 == 0 && g.group % 8 == 0 &&
           g.rows <= (1ull << 31) && g.cols <= (1ull << 31) && cuda_available();
}

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
    if (bytes) check(cudaMalloc(&ptr_, bytes), "cudaMalloc");
}
DeviceBuffer::~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);  // errors here cannot be reported from a destructor
}
DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) {
    o.ptr_ = nullptr;
    o.bytes_ = 0;
}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
}
void DeviceBuffer::upload(const void* host, std::size_t bytes, std::size_t offset) {
    if (offset > bytes_ || bytes > bytes_ - offset) throw std::runtime_error("DeviceBuffer::upload past the end");
    check(cudaMemcpy(static_cast<char*>(ptr_) + offset, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to device");
}
void DeviceBuffer::download(void* host, std::size_t bytes, std::size_t offset) const {
    if (offset > bytes_ || bytes > bytes_ - offset) throw std::runtime_error("DeviceBuffer::download past the end");
    check(cudaMemcpy(host, static_cast<const char*>(ptr_) + offset, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
}

struct CudaPackedMatrix::Impl {
    TileGrid grid;
    DeviceBuffer widths, offsets, data;
    DeviceBuffer scratch;  // fp16 N x K, allocated on the first batch > 8
    cublasHandle_t cublas = nullptr;
    int sms = 1;
    ~Impl() {
        if (cublas) cublasDestroy(cublas);
    }
    cuda::DeviceMatrix device() const {
        return cuda::DeviceMatrix{grid.rows, grid.cols, grid.tile_rows, grid.tile_cols, grid.group, grid.tiles_c(),
                                  static_cast<const std::uint8_t*>(widths.get()),
                                  static_cast<const std::uint64_t*>(offsets.get()),
                                  static_cast<const std::uint8_t*>(data.get())};
    }
};

CudaPackedMatrix::CudaPackedMatrix(const PackedMatrixView& v) {
    validate(v);
    if (!cuda_supports(v, 1)) throw std::runtime_error("CUDA path does not support this packed matrix (see cuda_supports)");
    auto impl = std::make_unique<Impl>();
    impl->grid = v.grid;
    const std::size_t tiles = v.grid.tile_count();
    impl->widths = DeviceBuffer(tiles);
    impl->widths.upload(v.widths, tiles);
    impl->offsets = DeviceBuffer(tiles * sizeof(std::uint64_t));
    impl->offsets.upload(v.tile_offsets, tiles * sizeof(std::uint64_t));
    impl->data = DeviceBuffer(v.data_bytes);  // cudaMalloc is 256-byte aligned: tile starts stay 16-byte aligned
    impl->data.upload(v.data, v.data_bytes);
    int dev = 0;
    check(cudaGetDevice(&dev), "cudaGetDevice");
    check(cudaDeviceGetAttribute(&impl->sms, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
    impl_ = impl.release();
}

CudaPackedMatrix::~CudaPackedMatrix() { delete impl_; }
CudaPackedMatrix::CudaPackedMatrix(CudaPackedMatrix&& o) noexcept : impl_(o.impl_) { o.impl_ = nullptr; }
CudaPackedMatrix& CudaPackedMatrix::operator=(CudaPackedMatrix&& o) noexcept {
    std::swap(impl_, o.impl_);
    return *this;
}
const TileGrid& CudaPackedMatrix::grid() const { return impl_->grid; }

void CudaPackedMatrix::gemm(const void* x_dev, int batch, float* y_dev, void* stream_handle) {
    if (!impl_) throw std::runtime_error("CudaPackedMatrix: moved-from object");
    if (batch < 1) throw std::runtime_error("CudaPackedMatrix::gemm: batch must be >= 1");
    cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
    const cuda::DeviceMatrix m = impl_->device();
    if (batch <= cuda::gemv_max_batch()) {
        cuda::gemv(m, x_dev, batch, y_dev, stream, impl_->sms);
        return;
    }
    const std::size_t need = impl_->grid.rows * impl_->grid.cols * sizeof(half);
    if (impl_->scratch.size() < need) impl_->scratch = DeviceBuffer(need);
    if (!impl_->cublas) cuda::check_cublas(cublasCreate(&impl_->cublas), "cublasCreate");
    cuda::check_cublas(cublasSetStream(impl_->cublas, stream), "cublasSetStream");
    half* w = static_cast<half*>(impl_->scratch.get());
    cuda::dequantize_to_half(m, w, stream);
    cuda::gemm_cublas(impl_->cublas, w, impl_->grid.rows, impl_->grid.cols, static_cast<const half*>(x_dev), batch, y_dev);
}

}  // namespace scalebits::kernels
