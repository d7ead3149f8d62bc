// verify mode: every width 2..8 and mixed widths, awkward shapes and edge tiles, batch 1..16;
// optimized CPU (and CUDA when a device is present) against the CPU reference. Returns the
// number of failed cases.
#include "cases.h"
#include "tool.h"

#include <stdexcept>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <vector>

namespace scalebits::kernels::tool {

namespace {

struct Shape {
    std::size_t N, K, tr, tc, g;
};

// Awkward shapes: a single row, widths not a multiple of 128 (tail columns), edge tiles in both
// directions, groups 8..320, tiles narrower than a chunk (all tail), tiles of two chunks, groups that
// span a chunk and the tail, tails of 8..64 columns in one group (the VBMI tail: SmolLM2's 576, 296, 136).
const Shape kShapes[] = {
    {1, 1000, 128, 128, 64},   {172, 64, 128, 128, 64},  {576, 1536, 128, 128, 128}, {300, 260, 128, 128, 32},
    {300, 260, 128, 128, 128}, {130, 384, 128, 128, 64}, {200, 392, 64, 64, 32},      {96, 512, 128, 256, 256},
    {64, 384, 64, 384, 96},    {33, 256, 128, 128, 8},   {129, 200, 128, 128, 16},  {50, 576, 128, 512, 128},
    {37, 1000, 64, 256, 32},   {45, 192, 128, 192, 48},  {30, 640, 128, 320, 320},  {256, 576, 128, 128, 64},
    {40, 296, 128, 128, 128},  {24, 136, 128, 128, 64},
};

struct Stats {
    int cases = 0, failed = 0;
    double worst_ratio = 0;  // max |err| / tol over everything
};

bool check(const char* what, const Case& c, const std::vector<float>& got, const std::vector<float>& ref,
           const Bounds& bounds, int batch, bool cuda, Stats& st) {
    const std::size_t N = c.grid.rows, K = c.grid.cols;
    double worst = 0;
    std::size_t worst_i = 0;
    for (std::size_t i = 0; i < static_cast<std::size_t>(batch) * N; ++i) {
        const double tol = cuda ? cuda_tolerance(bounds.absw[i], bounds.qz[i], K) : cpu_tolerance(bounds.qz[i], bounds.qzmax[i], bounds.sqz[i], K);
        const double err = std::fabs(static_cast<double>(got[i]) - ref[i]);
        const double ratio = std::isfinite(err) ? err / tol : 1e30;
        if (ratio > worst) { worst = ratio; worst_i = i; }
    }
    st.worst_ratio = std::max(st.worst_ratio, worst);
    ++st.cases;
    if (worst <= 1.0) return true;
    ++st.failed;
    std::fprintf(stderr, "MISMATCH %s %zux%zu tiles %zux%zu group %zu batch %d: y[%zu][%zu] = %.9g, reference %.9g (err/tol %.3g)\n",
                 what, N, K, c.grid.tile_rows, c.grid.tile_cols, c.grid.group, batch, worst_i / N, worst_i % N,
                 static_cast<double>(got[worst_i]), static_cast<double>(ref[worst_i]), worst);
    return false;
}

// Items [from, from + count) of a batch's outputs (N each) or bounds, as a batch of their own.
template <class T>
std::vector<T> items(const std::vector<T>& v, int from, int count, std::size_t N) {
    return {v.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(from) * N),
            v.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(from + count) * N)};
}
Bounds items(const Bounds& b, int from, int count, std::size_t N) {
    return Bounds{items(b.qz, from, count, N), items(b.absw, from, count, N), items(b.qzmax, from, count, N),
                  items(b.sqz, from, count, N)};
}

// Codes and dequantized values read back from the packed bytes must be what was packed.
bool round_trip(const Case& c) {
    const std::size_t N = c.grid.rows, K = c.grid.cols, gpr = c.grid.groups_per_row();
    std::vector<float> W(N * K);
    dequantize_reference(c.packed.view(), W.data());
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t k = 0; k < K; ++k) {
            const std::size_t gi = n * gpr + k / c.grid.group;
            const bool dense = c.dense_tile(n, k);
            const float expect = dense ? c.dense[n * K + k]
                                       : half_to_float(float_to_half(c.scales[gi])) *
                                             (static_cast<float>(c.codes[n * K + k]) - static_cast<float>(c.zeros[gi]));
            const unsigned code = dense ? 0u : c.codes[n * K + k];
            if (packed_code(c.packed.view(), n, k) != code || W[n * K + k] != expect) {
                std::fprintf(stderr, "ROUND TRIP %zux%zu: element (%zu, %zu) reads back wrong\n", N, K, n, k);
                return false;
            }
        }
    // An embedding lookup reads the same values row by row.
    std::vector<float> rows(K);
    for (std::size_t n = 0; n < N; n += std::max<std::size_t>(1, N / 7)) {
        dequantize_rows(c.packed.view(), n, 1, rows.data());
        if (!std::equal(rows.begin(), rows.end(), W.begin() + static_cast<std::ptrdiff_t>(n * K))) {
            std::fprintf(stderr, "ROUND TRIP %zux%zu: dequantize_rows differs at row %zu\n", N, K, n);
            return false;
        }
    }
    return c.packed.data.size() == packed_data_bytes(c.grid, c.widths.data());
}

}  // namespace

int run_verify(const Options& opt) {
    // Asked for by name, CUDA must be there: a GPU check that silently checked only the CPU would pass.
    if (opt.device == "cuda" && !cuda_available())
        throw std::runtime_error("--device cuda: no CUDA device is visible, or this build has no CUDA kernels");
    Stats cpu_st, cuda_st;
    int rt_fail = 0;
    const bool cuda = cuda_available() && !opt.cpu_only;
    std::uint64_t seed = 1;
    const int width_specs[] = {2, 3, 4, 5, 6, 7, 8, kMixedAll, kMixed3, kMixedDense, kMixed78};
    for (const Shape& sh : kShapes) {
        for (int spec : width_specs) {
            TileGrid grid{sh.N, sh.K, sh.tr, sh.tc, sh.g};
            const Case c = make_case(grid, spec, ++seed);
            if (!round_trip(c)) ++rt_fail;
            const int maxb = 16;
            const std::vector<float> x = random_activations(static_cast<std::size_t>(maxb) * sh.K, seed);
            // The reference is per batch item, so one batch-16 call is the reference for every prefix.
            std::vector<float> ref(static_cast<std::size_t>(maxb) * sh.N), got(ref.size());
            gemm_reference(c.packed.view(), x.data(), maxb, ref.data());
            const Bounds bounds = error_bounds(c, x.data(), maxb);
            for (int batch = 1; batch <= maxb; ++batch) {
                gemm_cpu(c.packed.view(), x.data(), batch, got.data(), opt.threads);
                const std::string what = "cpu width " + width_name(spec);
                check(what.c_str(), c, got, ref, bounds, batch, false, cpu_st);
            }
            if (cuda && cuda_supports(c.packed.view(), 1)) {
                // CUDA takes fp16 activations: the reference gets the same rounded inputs.
                std::vector<std::uint16_t> xh(x.size());
                std::vector<float> xr(x.size());
                for (std::size_t i = 0; i < x.size(); ++i) {
                    xh[i] = float_to_half(x[i]);
                    xr[i] = half_to_float(xh[i]);
                }
                std::vector<float> ref16(ref.size());
                gemm_reference(c.packed.view(), xr.data(), maxb, ref16.data());
                const Bounds b16 = error_bounds(c, xr.data(), maxb);
                try {
                    CudaPackedMatrix dm(c.packed.view());
                    DeviceBuffer dx(xh.size() * 2), dy(ref.size() * 4);
                    dx.upload(xh.data(), xh.size() * 2);
                    for (int batch = 1; batch <= maxb; ++batch) {
                        std::fill(got.begin(), got.end(), 0.0f);
                        dm.gemm(dx.get(), batch, static_cast<float*>(dy.get()));
                        dy.download(got.data(), static_cast<std::size_t>(batch) * sh.N * 4);
                        const std::string what = "cuda width " + width_name(spec);
                        check(what.c_str(), c, got, ref16, b16, batch, true, cuda_st);
                    }
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "CUDA ERROR %zux%zu width %s: %s\n", sh.N, sh.K, width_name(spec).c_str(), e.what());
                    ++cuda_st.cases;
                    ++cuda_st.failed;
                }
            }
        }
    }
    // The numbers at the format's edges (CPU only: the CUDA path takes fp16 activations, and a
    // weight beyond fp16's range, scale 65504 times a code, overflows its fp16 products).
    Stats edge_st;
    const int edge_specs[] = {2, 3, 4, 7, 8, kMixedAll};
    for (const Shape& sh : kShapes)
        for (int spec : edge_specs) {
            const TileGrid grid{sh.N, sh.K, sh.tr, sh.tc, sh.g};
            const Case c = make_edge_case(grid, spec, ++seed);
            if (!round_trip(c)) ++rt_fail;
            const int maxb = 10;  // one item per activation class, then two that mix them
            const std::vector<float> x = edge_activations(maxb, sh.K, seed);
            std::vector<float> ref(static_cast<std::size_t>(maxb) * sh.N), got(ref.size());
            gemm_reference(c.packed.view(), x.data(), maxb, ref.data());
            const Bounds bounds = error_bounds(c, x.data(), maxb);
            // Every item alone and in blocks of 4 (the kernels with a batch limit take those), and all.
            for (int batch : {1, 4, maxb})
                for (int b0 = 0; b0 < maxb; b0 += batch) {
                    const int from = std::min(b0, maxb - batch);
                    gemm_cpu(c.packed.view(), x.data() + static_cast<std::size_t>(from) * sh.K, batch, got.data(), opt.threads);
                    const std::string what = "cpu edge numbers width " + width_name(spec) + " items from " + std::to_string(from);
                    check(what.c_str(), c, got, items(ref, from, batch, sh.N), items(bounds, from, batch, sh.N), batch, false, edge_st);
                }
        }
    // Every code at the top of its width against activations of one sign and equal magnitude: the
    // integer sums at their bounds (the byte kernels' int16 pair sums above all). Item 0 is all -1
    // (xh = -128 in the byte kernels), item 1 all +1, items 2 and 3 change sign by chunk half and
    // by chunk; batch 1 and blocks of 2 and 4.
    Stats max_st;
    const int max_specs[] = {2, 3, 4, 5, 6, 7, 8, kMixed78};
    for (const Shape& sh : kShapes)
        for (int spec : max_specs) {
            const TileGrid grid{sh.N, sh.K, sh.tr, sh.tc, sh.g};
            const Case c = make_max_code_case(grid, spec, ++seed);
            const int maxb = 4;
            std::vector<float> x(static_cast<std::size_t>(maxb) * sh.K);
            for (std::size_t k = 0; k < sh.K; ++k) {
                x[k] = -1.0f;
                x[sh.K + k] = 1.0f;
                x[2 * sh.K + k] = (k / 64) % 2 ? 1.0f : -1.0f;
                x[3 * sh.K + k] = (k / 128) % 2 ? -1.0f : 1.0f;
            }
            std::vector<float> ref(static_cast<std::size_t>(maxb) * sh.N), got(ref.size());
            gemm_reference(c.packed.view(), x.data(), maxb, ref.data());
            const Bounds bounds = error_bounds(c, x.data(), maxb);
            for (int batch : {1, 2, maxb}) {
                gemm_cpu(c.packed.view(), x.data(), batch, got.data(), opt.threads);
                const std::string what = "cpu largest codes width " + width_name(spec);
                check(what.c_str(), c, got, ref, bounds, batch, false, max_st);
            }
        }
    // Several matrices in one call (a decoder's q/k/v, gate/up): each output equals gemm_cpu's for
    // that matrix bit for bit, for row counts that end tiles at different places; a matrix with other
    // columns is refused.
    int many_cases = 0, many_failed = 0;
    for (const Shape& sh : kShapes)
        for (int batch : {1, 5}) {
            std::vector<Case> cs;
            for (std::size_t n : {sh.N, sh.N / 2 + 1, std::size_t{7}})
                cs.push_back(make_case(TileGrid{n, sh.K, sh.tr, sh.tc, sh.g}, kMixedDense, ++seed));
            const std::vector<float> x = random_activations(static_cast<std::size_t>(batch) * sh.K, seed);
            std::vector<PackedMatrixView> views;
            std::vector<std::vector<float>> one(cs.size()), many(cs.size());
            std::vector<float*> ys;
            for (std::size_t m = 0; m < cs.size(); ++m) {
                views.push_back(cs[m].packed.view());
                one[m].assign(static_cast<std::size_t>(batch) * cs[m].grid.rows, 0.0f);
                many[m].assign(one[m].size(), -1.0f);
                gemm_cpu(views[m], x.data(), batch, one[m].data(), opt.threads);
                ys.push_back(many[m].data());
            }
            std::vector<const PackedMatrixView*> ptrs;
            for (const auto& v : views) ptrs.push_back(&v);
            gemm_cpu_many(ptrs.data(), static_cast<int>(ptrs.size()), x.data(), batch, ys.data(), opt.threads);
            ++many_cases;
            for (std::size_t m = 0; m < cs.size(); ++m)
                if (std::memcmp(one[m].data(), many[m].data(), one[m].size() * sizeof(float)) != 0) {
                    std::fprintf(stderr, "MISMATCH gemm_cpu_many %zux%zu matrix %zu batch %d differs from gemm_cpu\n",
                                 cs[m].grid.rows, sh.K, m, batch);
                    ++many_failed;
                    break;
                }
        }
    {
        const Case a = make_case(TileGrid{64, 256, 128, 128, 64}, 4, ++seed), b = make_case(TileGrid{64, 384, 128, 128, 64}, 4, ++seed);
        const PackedMatrixView va = a.packed.view(), vb = b.packed.view();
        const PackedMatrixView* ptrs[] = {&va, &vb};
        std::vector<float> x(384, 1.0f), y0(64), y1(64);
        float* ys[] = {y0.data(), y1.data()};
        ++many_cases;
        try {
            gemm_cpu_many(ptrs, 2, x.data(), 1, ys, opt.threads);
            std::fprintf(stderr, "gemm_cpu_many took matrices of 256 and 384 columns in one call\n");
            ++many_failed;
        } catch (const std::invalid_argument&) {
        }
    }
    std::printf("verify: cpu several matrices in one call, %d cases, %d failed\n", many_cases, many_failed);
    // Dense fp16 GEMV (unquantized vocabulary matrices) against its reference: the sum of |w x| bounds
    // the difference of two fp32 summation orders (K ulps of it).
    int f16_cases = 0, f16_failed = 0;
    for (const Shape& sh : kShapes)
        for (int batch : {1, 5}) {
            std::uint64_t s2 = ++seed * 0x9E3779B97F4A7C15ull;
            auto uniform = [&s2] {
                s2 = s2 * 6364136223846793005ull + 1442695040888963407ull;
                return static_cast<float>(static_cast<double>(s2 >> 11) * 0x1.0p-53 * 2.0 - 1.0);
            };
            std::vector<std::uint16_t> W(sh.N * sh.K);
            for (auto& w : W) w = float_to_half(0.1f * uniform());
            std::vector<float> x(static_cast<std::size_t>(batch) * sh.K), ref(static_cast<std::size_t>(batch) * sh.N),
                got(ref.size());
            for (auto& v : x) v = uniform();
            gemm_f16_reference(W.data(), sh.N, sh.K, x.data(), batch, ref.data());
            gemm_f16_cpu(W.data(), sh.N, sh.K, x.data(), batch, got.data(), opt.threads);
            ++f16_cases;
            for (int b = 0; b < batch; ++b)
                for (std::size_t n = 0; n < sh.N; ++n) {
                    double mag = 0;
                    for (std::size_t k = 0; k < sh.K; ++k)
                        mag += std::fabs(half_to_float(W[n * sh.K + k]) * x[static_cast<std::size_t>(b) * sh.K + k]);
                    const std::size_t i = static_cast<std::size_t>(b) * sh.N + n;
                    if (!(std::fabs(got[i] - ref[i]) <= static_cast<double>(sh.K) * 0x1.0p-23 * mag + 1e-30)) {
                        ++f16_failed;
                        b = batch;
                        break;
                    }
                }
        }
    std::printf("verify: cpu dense fp16 GEMV, %d cases, %d failed\n", f16_cases, f16_failed);
    std::printf("verify: cpu path %s, %d cases, %d failed, worst err/tol %.3g\n", cpu_path().c_str(), cpu_st.cases,
                cpu_st.failed, cpu_st.worst_ratio);
    std::printf("verify: cpu edge numbers (fp16 scale limits, zero groups, activations 0 / 1e-40 .. 1e25), %d cases, "
                "%d failed, worst err/tol %.3g\n", edge_st.cases, edge_st.failed, edge_st.worst_ratio);
    std::printf("verify: cpu largest codes (every code 2^b - 1, activations +-1), %d cases, %d failed, worst err/tol %.3g\n",
                max_st.cases, max_st.failed, max_st.worst_ratio);
    std::printf("verify: round trip %d matrices failed\n", rt_fail);
    if (cuda)
        std::printf("verify: cuda (%s) %d cases, %d failed, worst err/tol %.3g\n", cuda_device_name().c_str(),
                    cuda_st.cases, cuda_st.failed, cuda_st.worst_ratio);
    else
        std::printf("verify: cuda not checked (%s)\n", opt.cpu_only ? "--device cpu" : "no CUDA device");
    const int failed = cpu_st.failed + edge_st.failed + max_st.failed + cuda_st.failed + rt_fail + f16_failed + many_failed;
    std::printf("verify: %s\n", failed == 0 ? "PASS" : "FAIL");
    return failed;
}

}  // namespace scalebits::kernels::tool
