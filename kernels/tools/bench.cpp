// bench mode: median time of the packed GEMV/GEMM, achieved GB/s of packed bytes and its share of
// the bandwidth measured in the same run, the dense baseline (FP32 on CPU, FP16 cuBLAS on GPU) for
// the same shape in the same run, and the max error against the CPU reference. Several copies of
// the weights rotate so the last-level cache (CPU LLC / GPU L2) does not hold the matrix. On the CPU
// each kernel run is paired with a plain read of as many bytes (read_alongside_*).
#include "cases.h"
#include "tool.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace scalebits::kernels::tool {

namespace {

constexpr std::size_t kRotateBytes = 512ull << 20;  // > 10x any LLC or L2 of the target machines

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int auto_iters(const Options& opt, double bytes) {
    if (opt.iters > 0) return opt.iters;
    // Aim at ~0.3 s of measurement per case, between 7 and 50 runs.
    const double guess_s = bytes / 20e9;
    return static_cast<int>(std::clamp(0.3 / std::max(guess_s, 1e-6), 7.0, 50.0));
}

int copies_for(std::size_t bytes) {
    return static_cast<int>(std::clamp<std::size_t>((kRotateBytes + bytes - 1) / std::max<std::size_t>(bytes, 1), 1, 16));
}

struct Result {
    std::size_t N = 0, K = 0;
    std::string bits;
    int batch = 1;
    double avg_bits = 0;          // packed bytes * 8 / weights, metadata and headers included
    std::size_t packed_bytes = 0;  // tiles + headers
    double us = 0, gbps = 0, bw_gbps = 0, share = 0, base_us = 0, speedup = 0;
    // CPU: a plain read of the same number of bytes, timed between the kernel's runs (0 on CUDA).
    double read_gbps = 0, read_share = 0;
    double max_abs_err = 0, max_err_over_tol = 0;
    int copies = 1;
};

struct ErrorStats {
    double max_abs = 0, max_ratio = 0;
};

ErrorStats compare(const Case& c, const std::vector<float>& got, const std::vector<float>& ref, const float* x, int batch,
                   bool cuda) {
    const Bounds b = error_bounds(c, x, batch);
    ErrorStats e;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        const double err = std::fabs(static_cast<double>(got[i]) - ref[i]);
        const double tol = cuda ? cuda_tolerance(b.absw[i], b.qz[i], c.grid.cols) : cpu_tolerance(b.qz[i], b.qzmax[i], b.sqz[i], c.grid.cols);
        e.max_abs = std::max(e.max_abs, err);
        e.max_ratio = std::max(e.max_ratio, std::isfinite(err) ? err / tol : 1e30);
    }
    return e;
}

// Reference output from an already dequantized matrix (same arithmetic as gemm_reference).
std::vector<float> reference_from_dense(const std::vector<float>& W, std::size_t N, std::size_t K, const float* x,
                                        int batch) {
    std::vector<float> y(static_cast<std::size_t>(batch) * N);
    for (int b = 0; b < batch; ++b)
        for (std::size_t n = 0; n < N; ++n) {
            float acc = 0.0f;
            for (std::size_t k = 0; k < K; ++k) acc += W[n * K + k] * x[static_cast<std::size_t>(b) * K + k];
            y[static_cast<std::size_t>(b) * N + n] = acc;
        }
    return y;
}

template <class F>
double time_cpu_median_us(int iters, F&& fn) {
    fn(0);
    fn(1);  // warm up: thread pool, page faults
    std::vector<double> t;
    for (int i = 0; i < iters; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        fn(i);
        t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    return median(t);
}

Result bench_cpu_case(const Options& opt, const Case& c, int batch, double bw) {
    const std::size_t N = c.grid.rows, K = c.grid.cols;
    Result r;
    const std::size_t bytes = c.packed.total_bytes();
    r.copies = copies_for(bytes);
    std::vector<PackedMatrix> mats(static_cast<std::size_t>(r.copies), c.packed);
    const std::vector<float> x = random_activations(static_cast<std::size_t>(batch) * K, 99);
    std::vector<float> y(static_cast<std::size_t>(batch) * N);
    const int iters = auto_iters(opt, static_cast<double>(bytes));
    // Each kernel run is followed by a plain read of another copy's bytes on the same threads. On a
    // shared host the bandwidth drifts by tens of percent within seconds; the pair shows how close
    // the kernel comes to what the memory delivered at that moment.
    const std::size_t n_copies = mats.size();
    auto kernel = [&](std::size_t i) {
        gemm_cpu(mats[i % n_copies].view(), x.data(), batch, y.data(), opt.threads);
    };
    kernel(0);
    kernel(1);  // warm up: thread pool, page faults
    std::vector<double> tk, tr;
    for (int i = 0; i < iters; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        kernel(static_cast<std::size_t>(i));
        tk.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
        const PackedMatrix& other = mats[(static_cast<std::size_t>(i) + n_copies / 2 + 1) % n_copies];
        tr.push_back(cpu_stream_read_us(other.data.data(), other.data.size(), opt.threads));
    }
    r.us = median(tk);
    r.read_gbps = static_cast<double>(mats[0].data.size()) / (median(tr) * 1e3);
    mats.resize(1);
    // Dense FP32 baseline on the dequantized matrix (itself larger than the LLC for real shapes).
    std::vector<float> W(N * K);
    dequantize_reference(c.packed.view(), W.data());
    const int dense_copies = copies_for(N * K * 4);
    std::vector<std::vector<float>> dense(static_cast<std::size_t>(dense_copies - 1), W);
    std::vector<float> yd(y.size());
    r.base_us = time_cpu_median_us(auto_iters(opt, static_cast<double>(N * K * 4)), [&](int i) {
        const std::size_t which = static_cast<std::size_t>(i) % static_cast<std::size_t>(dense_copies);
        const float* w = which == 0 ? W.data() : dense[which - 1].data();
        gemm_f32_cpu(w, N, K, x.data(), batch, yd.data(), opt.threads);
    });
    dense.clear();
    if (opt.check_error) {
        gemm_cpu(c.packed.view(), x.data(), batch, y.data(), opt.threads);
        const std::vector<float> ref = reference_from_dense(W, N, K, x.data(), batch);
        const ErrorStats e = compare(c, y, ref, x.data(), batch, false);
        r.max_abs_err = e.max_abs;
        r.max_err_over_tol = e.max_ratio;
    }
    r.bw_gbps = bw;
    return r;
}

Result bench_cuda_case(const Options& opt, const Case& c, int batch, double bw) {
    const std::size_t N = c.grid.rows, K = c.grid.cols;
    Result r;
    const std::size_t bytes = c.packed.total_bytes();
    r.copies = copies_for(bytes);
    std::vector<CudaPackedMatrix> mats;
    for (int i = 0; i < r.copies; ++i) mats.emplace_back(c.packed.view());
    std::vector<CudaPackedMatrix*> ptrs;
    for (auto& m : mats) ptrs.push_back(&m);
    const std::vector<float> x = random_activations(static_cast<std::size_t>(batch) * K, 99);
    std::vector<std::uint16_t> xh(x.size());
    std::vector<float> xr(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        xh[i] = float_to_half(x[i]);
        xr[i] = half_to_float(xh[i]);
    }
    DeviceBuffer dx(xh.size() * 2), dy(static_cast<std::size_t>(batch) * N * 4);
    dx.upload(xh.data(), xh.size() * 2);
    const int iters = opt.iters > 0 ? opt.iters : 100;
    r.us = cuda_time_gemm(ptrs, dx.get(), batch, static_cast<float*>(dy.get()), iters).median_us;
    mats.clear();
    r.base_us = cuda_time_fp16_cublas(N, K, batch, iters).median_us;
    if (opt.check_error) {
        CudaPackedMatrix one(c.packed.view());
        one.gemm(dx.get(), batch, static_cast<float*>(dy.get()));
        std::vector<float> y(static_cast<std::size_t>(batch) * N);
        dy.download(y.data(), y.size() * 4);
        std::vector<float> W(N * K);
        dequantize_reference(c.packed.view(), W.data());
        const std::vector<float> ref = reference_from_dense(W, N, K, xr.data(), batch);
        const ErrorStats e = compare(c, y, ref, xr.data(), batch, true);
        r.max_abs_err = e.max_abs;
        r.max_err_over_tol = e.max_ratio;
    }
    r.bw_gbps = bw;
    return r;
}

}  // namespace

int run_bench(const Options& opt) {
    const bool cuda = opt.device == "cuda";
    if (cuda && !cuda_available()) throw std::runtime_error("--device cuda: no CUDA device is visible, or this build has no CUDA kernels");
    // Bandwidth of the device, measured once in this run: CPU read bandwidth with the same thread
    // count as the kernels, or GPU device-to-device cudaMemcpy.
    const double bw = cuda ? cuda_copy_bandwidth_gbps(1ull << 30, 20) : cpu_read_bandwidth_gbps(1ull << 30, opt.threads, 7);
    std::vector<Result> results;
    std::uint64_t seed = 1000;
    for (const auto& [N, K] : opt.shapes) {
        for (int spec : opt.bits) {
            TileGrid grid{N, K, opt.tile, opt.tile, opt.group};
            const Case c = make_case(grid, spec, ++seed);
            for (int batch : opt.batches) {
                if (cuda && !cuda_supports(c.packed.view(), batch)) {
                    std::fprintf(stderr, "skipping %zux%zu batch %d: not supported by the CUDA path\n", N, K, batch);
                    continue;
                }
                Result r = cuda ? bench_cuda_case(opt, c, batch, bw) : bench_cpu_case(opt, c, batch, bw);
                r.N = N;
                r.K = K;
                r.bits = width_name(spec);
                r.batch = batch;
                r.packed_bytes = c.packed.total_bytes();
                r.avg_bits = 8.0 * static_cast<double>(r.packed_bytes) / static_cast<double>(N * K);
                r.gbps = static_cast<double>(r.packed_bytes) / (r.us * 1e3);
                r.share = r.gbps / r.bw_gbps;
                r.read_share = r.read_gbps > 0 ? r.gbps / r.read_gbps : 0.0;
                r.speedup = r.base_us / r.us;
                results.push_back(r);
                if (!opt.json) {
                    char alongside[64] = "";
                    if (!cuda)
                        std::snprintf(alongside, sizeof alongside, "  %5.1f%% of %.1f read alongside", 100 * r.read_share, r.read_gbps);
                    std::printf("%6zux%-6zu bits %-6s batch %2d  %9.1f us  %7.1f GB/s  %5.1f%% of %.1f GB/s%s  %s %9.1f us  x%.2f  err %.3g (%.2g tol)\n",
                                N, K, r.bits.c_str(), batch, r.us, r.gbps, 100 * r.share, r.bw_gbps, alongside,
                                cuda ? "fp16 cuBLAS" : "fp32", r.base_us, r.speedup, r.max_abs_err, r.max_err_over_tol);
                }
                std::fflush(stdout);
            }
        }
    }
    if (opt.json) {
        std::printf("{\n  \"device\": \"%s\",\n  \"device_name\": \"%s\",\n  \"threads\": %d,\n  \"bandwidth_gbps\": %.2f,\n"
                    "  \"bandwidth_kind\": \"%s\",\n  \"baseline\": \"%s\",\n  \"results\": [\n",
                    opt.device.c_str(), cuda ? cuda_device_name().c_str() : cpu_path().c_str(), opt.threads, bw,
                    cuda ? "cudaMemcpy device-to-device" : "multi-threaded read", cuda ? "fp16 cuBLAS" : "fp32 AVX2 GEMV");
        for (std::size_t i = 0; i < results.size(); ++i) {
            const Result& r = results[i];
            std::printf("    {\"N\": %zu, \"K\": %zu, \"bits\": \"%s\", \"batch\": %d, \"avg_bits\": %.3f, \"packed_bytes\": %zu, "
                        "\"median_us\": %.2f, \"gbps\": %.2f, \"bandwidth_share\": %.4f, \"read_alongside_gbps\": %.2f, "
                        "\"read_alongside_share\": %.4f, \"baseline_us\": %.2f, "
                        "\"speedup\": %.3f, \"max_abs_err\": %.4g, \"max_err_over_tol\": %.4g, \"copies\": %d}%s\n",
                        r.N, r.K, r.bits.c_str(), r.batch, r.avg_bits, r.packed_bytes, r.us, r.gbps, r.share, r.read_gbps,
                        r.read_share, r.base_us,
                        r.speedup, r.max_abs_err, r.max_err_over_tol, r.copies, i + 1 < results.size() ? "," : "");
        }
        std::printf("  ]\n}\n");
    }
    for (const Result& r : results)
        if (r.max_err_over_tol > 1.0) {
            std::fprintf(stderr, "bench: %zux%zu bits %s batch %d exceeds the error tolerance\n", r.N, r.K, r.bits.c_str(), r.batch);
            return 1;
        }
    return 0;
}

}  // namespace scalebits::kernels::tool
