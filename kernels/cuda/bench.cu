// Benchmark support timed with CUDA events: copy bandwidth, packed GEMM over rotating copies, and
// the FP16 cuBLAS baseline for the same shape.
#include "gemv.cuh"

#include <algorithm>
#include <vector>

namespace scalebits::kernels {

using cuda::check;

namespace {

class Events {
public:
    Events() {
        check(cudaEventCreate(&a_), "cudaEventCreate");
        check(cudaEventCreate(&b_), "cudaEventCreate");
    }
    ~Events() {
        cudaEventDestroy(a_);
        cudaEventDestroy(b_);
    }
    void start() { check(cudaEventRecord(a_), "cudaEventRecord"); }
    float stop_ms() {
        check(cudaEventRecord(b_), "cudaEventRecord");
        check(cudaEventSynchronize(b_), "cudaEventSynchronize");
        float ms = 0;
        check(cudaEventElapsedTime(&ms, a_, b_), "cudaEventElapsedTime");
        return ms;
    }

private:
    cudaEvent_t a_{}, b_{};
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

double cuda_copy_bandwidth_gbps(std::size_t bytes, int iters) {
    DeviceBuffer src(bytes), dst(bytes);
    check(cudaMemset(src.get(), 1, bytes), "cudaMemset");
    Events ev;
    std::vector<double> ms;
    for (int i = 0; i < std::max(2, iters) + 2; ++i) {
        ev.start();
        check(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice), "cudaMemcpyAsync");
        const double t = ev.stop_ms();
        if (i >= 2) ms.push_back(t);  // the first copies warm up clocks and TLBs
    }
    return 2.0 * static_cast<double>(bytes) / (median(ms) * 1e-3) / 1e9;
}

CudaTiming cuda_time_gemm(std::vector<CudaPackedMatrix*> mats, const void* x_dev, int batch, float* y_dev, int iters) {
    if (mats.empty()) throw std::runtime_error("cuda_time_gemm: no matrices");
    for (int i = 0; i < 3; ++i) mats[static_cast<std::size_t>(i) % mats.size()]->gemm(x_dev, batch, y_dev);
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    Events ev;
    std::vector<double> us;
    for (int i = 0; i < std::max(1, iters); ++i) {
        ev.start();
        mats[static_cast<std::size_t>(i) % mats.size()]->gemm(x_dev, batch, y_dev);
        us.push_back(1e3 * ev.stop_ms());
    }
    return CudaTiming{median(us)};
}

CudaTiming cuda_time_fp16_cublas(std::size_t N, std::size_t K, int batch, int iters) {
    const std::size_t wbytes = N * K * sizeof(half);
    const int copies = static_cast<int>(std::clamp<std::size_t>((512ull << 20) / wbytes + 1, 1, 8));
    std::vector<DeviceBuffer> w;
    for (int i = 0; i < copies; ++i) {
        w.emplace_back(wbytes);
        check(cudaMemset(w.back().get(), 0x11, wbytes), "cudaMemset");  // small finite halves
    }
    DeviceBuffer x(static_cast<std::size_t>(batch) * K * sizeof(half)), y(static_cast<std::size_t>(batch) * N * sizeof(float));
    check(cudaMemset(x.get(), 0x22, x.size()), "cudaMemset");
    cublasHandle_t h = nullptr;
    cuda::check_cublas(cublasCreate(&h), "cublasCreate");
    struct Guard {
        cublasHandle_t h;
        ~Guard() { cublasDestroy(h); }
    } guard{h};
    auto run = [&](int i) {
        cuda::gemm_cublas(h, static_cast<const half*>(w[static_cast<std::size_t>(i) % w.size()].get()), N, K,
                          static_cast<const half*>(x.get()), batch, static_cast<float*>(y.get()));
    };
    for (int i = 0; i < 3; ++i) run(i);
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    Events ev;
    std::vector<double> us;
    for (int i = 0; i < std::max(1, iters); ++i) {
        ev.start();
        run(i);
        us.push_back(1e3 * ev.stop_ms());
    }
    return CudaTiming{median(us)};
}

}  // namespace scalebits::kernels
