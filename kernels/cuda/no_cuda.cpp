// Built when SCALEBITS_CUDA is OFF: the CUDA entry points exist, report "no device", and throw if
// used anyway, so callers compile unchanged and fall back to the CPU.
#include "scalebits/kernels.h"

#include <stdexcept>
#include <utility>

namespace scalebits::kernels {

namespace {
[[noreturn]] void no_cuda() { throw std::runtime_error("scalebits_kernels was built without CUDA"); }
}  // namespace

bool cuda_available() { return false; }
std::string cuda_device_name() { return {}; }
bool cuda_supports(const PackedMatrixView&, int) { return false; }

DeviceBuffer::DeviceBuffer(std::size_t) { no_cuda(); }
DeviceBuffer::~DeviceBuffer() = default;
DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; o.bytes_ = 0; }
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
}
void DeviceBuffer::upload(const void*, std::size_t, std::size_t) { no_cuda(); }
void DeviceBuffer::download(void*, std::size_t, std::size_t) const { no_cuda(); }

struct CudaPackedMatrix::Impl {};
CudaPackedMatrix::CudaPackedMatrix(const PackedMatrixView&) { no_cuda(); }
CudaPackedMatrix::~CudaPackedMatrix() = default;
CudaPackedMatrix::CudaPackedMatrix(CudaPackedMatrix&& o) noexcept : impl_(o.impl_) { o.impl_ = nullptr; }
CudaPackedMatrix& CudaPackedMatrix::operator=(CudaPackedMatrix&& o) noexcept {
    std::swap(impl_, o.impl_);
    return *this;
}
const TileGrid& CudaPackedMatrix::grid() const { no_cuda(); }
void CudaPackedMatrix::gemm(const void*, int, float*, void*) { no_cuda(); }

double cuda_copy_bandwidth_gbps(std::size_t, int) { no_cuda(); }
CudaTiming cuda_time_gemm(std::vector<CudaPackedMatrix*>, const void*, int, float*, int) { no_cuda(); }
CudaTiming cuda_time_fp16_cublas(std::size_t, std::size_t, int, int) { no_cuda(); }

}  // namespace scalebits::kernels
