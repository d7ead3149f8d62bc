// Benchmark baselines measured in the same run as the packed kernels: a dense FP32 GEMV and a
// multi-threaded read-bandwidth probe (the physical limit of a batch-1 GEMV is bytes / bandwidth).
#include "cpu_features.h"
#include "cpu_gemm.h"
#include "thread_pool.h"

#include "scalebits/kernels.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <stdexcept>
#include <vector>

namespace scalebits::kernels {

namespace {
bool avx2_ok() {
#if defined(SCALEBITS_HAVE_AVX2_KERNEL)
    return cpu::cpu_has_avx2_fma();
#else
    return false;
#endif
}
bool f16c_ok() {
#if defined(SCALEBITS_HAVE_AVX2_KERNEL)
    // SCALEBITS_CPU_PATH=generic takes the plain loop, as for the packed kernels (verify runs both).
    static const bool ok = avx2_ok() && cpu::cpu_has_f16c() && cpu::cpu_path_cap() != "generic";
    return ok;
#else
    return false;
#endif
}
int clamp_threads(int threads, const cpu::ThreadPool& pool) {
    return threads <= 0 ? pool.size() : std::min(threads, pool.size());
}
}  // namespace

void gemm_f32_cpu(const float* W, std::size_t N, std::size_t K, const float* x, int batch, float* y, int threads) {
    if (batch < 1) throw std::invalid_argument("gemm_f32_cpu: batch must be >= 1");
    cpu::ThreadPool& pool = cpu::ThreadPool::shared();
    const int parts = static_cast<int>(std::min<std::size_t>(N, static_cast<std::size_t>(clamp_threads(threads, pool))));
    pool.run(parts, [&](int p) {
        const std::size_t n0 = N * static_cast<std::size_t>(p) / static_cast<std::size_t>(parts);
        const std::size_t n1 = N * static_cast<std::size_t>(p + 1) / static_cast<std::size_t>(parts);
#if defined(SCALEBITS_HAVE_AVX2_KERNEL)
        if (avx2_ok()) {
            cpu::f32_rows_avx2(W, K, x, batch, N, n0, n1, y);
            return;
        }
#endif
        for (std::size_t n = n0; n < n1; ++n)
            for (int b = 0; b < batch; ++b) {
                float s = 0.0f;
                for (std::size_t k = 0; k < K; ++k) s += W[n * K + k] * x[static_cast<std::size_t>(b) * K + k];
                y[static_cast<std::size_t>(b) * N + n] = s;
            }
    });
}

void gemm_f16_cpu(const std::uint16_t* W, std::size_t N, std::size_t K, const float* x, int batch, float* y,
                  int threads) {
    if (batch < 1) throw std::invalid_argument("gemm_f16_cpu: batch must be >= 1");
    cpu::ThreadPool& pool = cpu::ThreadPool::shared();
    // Rows in blocks of 64 (a small matrix runs on fewer threads), handed out evenly.
    const std::size_t blocks = (N + 63) / 64;
    const int parts = static_cast<int>(std::min<std::size_t>(blocks, static_cast<std::size_t>(clamp_threads(threads, pool))));
    if (parts == 0) return;
    pool.run(parts, [&](int p) {
        const std::size_t n0 = std::min(N, blocks * static_cast<std::size_t>(p) / static_cast<std::size_t>(parts) * 64);
        const std::size_t n1 = std::min(N, blocks * static_cast<std::size_t>(p + 1) / static_cast<std::size_t>(parts) * 64);
#if defined(SCALEBITS_HAVE_AVX2_KERNEL)
        if (f16c_ok()) {
            cpu::f16_rows_avx2(W, K, x, batch, N, n0, n1, y);
            return;
        }
#endif
        for (std::size_t n = n0; n < n1; ++n)
            for (int b = 0; b < batch; ++b) {
                float s = 0.0f;
                for (std::size_t k = 0; k < K; ++k) s += half_to_float(W[n * K + k]) * x[static_cast<std::size_t>(b) * K + k];
                y[static_cast<std::size_t>(b) * N + n] = s;
            }
    });
}

void parallel_for(int parts, const std::function<void(int)>& fn) {
    if (parts <= 0) return;
    cpu::ThreadPool::shared().run(parts, fn);
}

int cpu_threads() { return cpu::ThreadPool::shared().size(); }

double cpu_read_bandwidth_gbps(std::size_t bytes, int threads, int iters) {
    const std::size_t n = bytes / sizeof(float);
    std::vector<float> buf(n, 1.0f);
    cpu::ThreadPool& pool = cpu::ThreadPool::shared();
    const int parts = clamp_threads(threads, pool);
    std::vector<double> rates;
    std::atomic<float> sink{0.0f};
    for (int it = 0; it < std::max(1, iters); ++it) {
        const auto t0 = std::chrono::steady_clock::now();
        pool.run(parts, [&](int p) {
            const std::size_t i0 = n * static_cast<std::size_t>(p) / static_cast<std::size_t>(parts);
            const std::size_t i1 = n * static_cast<std::size_t>(p + 1) / static_cast<std::size_t>(parts);
            float s = 0.0f;
#if defined(SCALEBITS_HAVE_AVX2_KERNEL)
            if (avx2_ok()) s = cpu::sum_avx2(buf.data() + i0, i1 - i0);
            else
#endif
                for (std::size_t i = i0; i < i1; ++i) s += buf[i];
            sink.store(s, std::memory_order_relaxed);
        });
        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        rates.push_back(static_cast<double>(n * sizeof(float)) / sec / 1e9);
    }
    // The best run: the bandwidth the machine can deliver, the fair denominator for a kernel's share.
    return *std::max_element(rates.begin(), rates.end());
}

double cpu_stream_read_us(const std::uint8_t* data, std::size_t bytes, int threads) {
    cpu::ThreadPool& pool = cpu::ThreadPool::shared();
    const int parts = clamp_threads(threads, pool);
    std::atomic<std::uint64_t> sink{0};
    const auto t0 = std::chrono::steady_clock::now();
    pool.run(parts, [&](int p) {
        const std::size_t i0 = bytes * static_cast<std::size_t>(p) / static_cast<std::size_t>(parts);
        const std::size_t i1 = bytes * static_cast<std::size_t>(p + 1) / static_cast<std::size_t>(parts);
        std::uint64_t r = 0;
#if defined(SCALEBITS_HAVE_AVX2_KERNEL)
        if (avx2_ok()) r = cpu::or_reduce_avx2(data + i0, i1 - i0);
        else
#endif
            for (std::size_t i = i0; i < i1; ++i) r |= data[i];
        sink.fetch_or(r, std::memory_order_relaxed);
    });
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace scalebits::kernels
