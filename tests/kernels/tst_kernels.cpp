// Kernel tests: the packed format (sizes, round trip, validation) and the optimized CPU GEMM
// against the CPU reference for every width, mixed widths, awkward shapes and edge tiles, and
// batch 1..16. CUDA is compared too when a device is present. And the thread pool under them:
// every part of every job runs once, back to back and after the workers have gone to sleep.
#include <QtTest>

#include <atomic>
#include <chrono>
#include <thread>

#include "scalebits/kernels.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

using namespace scalebits::kernels;

namespace {

std::uint64_t next(std::uint64_t& s) {
    s += 0x9e3779b97f4a7c15ull;
    std::uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

struct Packed {
    TileGrid grid;
    std::vector<std::uint8_t> widths, codes, zeros;
    std::vector<float> scales;
    PackedMatrix m;
};

// widths: 0 = random 2..8 per tile, else that width everywhere.
Packed make(const TileGrid& grid, int width, std::uint64_t seed) {
    Packed p;
    p.grid = grid;
    std::uint64_t s = seed;
    p.widths.resize(grid.tile_count());
    for (auto& w : p.widths) w = static_cast<std::uint8_t>(width ? width : 2 + static_cast<int>(next(s) % 7));
    const std::size_t N = grid.rows, K = grid.cols, gpr = grid.groups_per_row();
    p.codes.resize(N * K);
    p.zeros.resize(N * gpr);
    p.scales.resize(N * gpr);
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t gi = 0; gi < gpr; ++gi) {
            const int b = p.widths[(n / grid.tile_rows) * grid.tiles_c() + gi * grid.group / grid.tile_cols];
            p.zeros[n * gpr + gi] = static_cast<std::uint8_t>(next(s) % (1u << b));
            p.scales[n * gpr + gi] = 0.001f + 0.02f * static_cast<float>(next(s) % 1000) / 1000.0f;
            for (std::size_t k = gi * grid.group; k < std::min(K, (gi + 1) * grid.group); ++k)
                p.codes[n * K + k] = static_cast<std::uint8_t>(next(s) % (1u << b));
        }
    p.m = pack_matrix(grid, p.widths.data(), p.codes.data(), p.scales.data(), p.zeros.data());
    return p;
}

std::vector<float> activations(std::size_t n, std::uint64_t seed) {
    std::vector<float> x(n);
    std::uint64_t s = seed;
    for (auto& v : x) v = static_cast<float>(static_cast<double>(next(s) % 20001) / 10000.0 - 1.0);
    return x;
}

// sum_k |s| (q + z) of row n: with |x| <= 1, every accumulation error is relative to it.
double magnitude(const Packed& p, std::size_t n) {
    const std::size_t K = p.grid.cols, gpr = p.grid.groups_per_row();
    double m = 0;
    for (std::size_t k = 0; k < K; ++k) {
        const std::size_t gi = n * gpr + k / p.grid.group;
        m += std::fabs(p.scales[gi]) * (p.codes[n * K + k] + p.zeros[gi]);
    }
    return m;
}

// CPU: fp32 accumulation in different orders (~sqrt(K) u, factor 16) plus the optimized paths'
// activation rounding per chunk: at most half a step of 15 bits (the byte kernels, AVX2 ones
// included), 1/32766 of the chunk's largest |x| <= 1, a hair above 2^-15, which the fp32 term (at
// least 2^-18) covers.
double tolerance(const Packed& p, std::size_t n) {
    return magnitude(p, n) * (16.0 * 0x1.0p-24 * std::sqrt(static_cast<double>(p.grid.cols) + 16.0) + 0x1.0p-15) + 1e-9;
}

// CUDA: fp16 weights, fp16 products and half2 partial sums, ~6 half-precision roundings per term.
double cuda_tolerance(const Packed& p, std::size_t n) { return 6.0 * 0x1.0p-11 * magnitude(p, n) + tolerance(p, n); }

}  // namespace

class TstKernels : public QObject {
    Q_OBJECT

private slots:
    void tileSizesHandComputed() {
        // 128 x 128, group 128, 3 bits: payload 128*128*3/8 = 6144, scales 2*128 = 256,
        // zeros ceil(128*3/8) = 48: 6448 bytes, plus 9 header bytes outside the tile.
        QCOMPARE(packed_tile_bytes(128, 128, 128, 3), std::size_t{6448});
        // Edge tile 44 x 4, group 64, 3 bits: 66 -> 80, 88 -> 96, 17 -> 32.
        QCOMPARE(packed_tile_bytes(44, 4, 64, 3), std::size_t{208});
        QCOMPARE(kTileHeaderBytes, std::size_t{9});
    }

    void packedSizesMatchFormula_data() {
        QTest::addColumn<int>("N");
        QTest::addColumn<int>("K");
        QTest::addColumn<int>("group");
        QTest::newRow("300x260 g32") << 300 << 260 << 32;
        QTest::newRow("172x64 g64") << 172 << 64 << 64;
        QTest::newRow("1x1000 g128") << 1 << 1000 << 128;
    }
    void packedSizesMatchFormula() {
        QFETCH(int, N);
        QFETCH(int, K);
        QFETCH(int, group);
        const TileGrid grid{static_cast<std::size_t>(N), static_cast<std::size_t>(K), 128, 128, static_cast<std::size_t>(group)};
        const Packed p = make(grid, 0, 11);
        std::size_t expect = 0;
        for (std::size_t ti = 0; ti < grid.tiles_r(); ++ti)
            for (std::size_t tj = 0; tj < grid.tiles_c(); ++tj) {
                const std::size_t t = ti * grid.tiles_c() + tj;
                QCOMPARE(p.m.tile_offsets[t], static_cast<std::uint64_t>(expect));
                QVERIFY(p.m.tile_offsets[t] % 16 == 0);
                expect += packed_tile_bytes(grid.tile_height(ti), grid.tile_width(tj), grid.group, p.widths[t]);
            }
        QCOMPARE(p.m.data.size(), expect);
        QCOMPARE(p.m.total_bytes(), expect + kTileHeaderBytes * grid.tile_count());
    }

    void roundTripEveryWidth_data() {
        QTest::addColumn<int>("width");
        for (int b = 2; b <= 8; ++b) QTest::newRow(qPrintable(QStringLiteral("b%1").arg(b))) << b;
        QTest::newRow("mixed") << 0;
    }
    void roundTripEveryWidth() {
        QFETCH(int, width);
        const TileGrid grid{300, 260, 128, 128, 32};
        const Packed p = make(grid, width, 100 + static_cast<std::uint64_t>(width));
        std::vector<float> W(grid.rows * grid.cols);
        dequantize_reference(p.m.view(), W.data());
        const std::size_t gpr = grid.groups_per_row();
        for (std::size_t n = 0; n < grid.rows; ++n)
            for (std::size_t k = 0; k < grid.cols; ++k) {
                QCOMPARE(packed_code(p.m.view(), n, k), p.codes[n * grid.cols + k]);
                const std::size_t gi = n * gpr + k / grid.group;
                const float expect = half_to_float(float_to_half(p.scales[gi])) *
                                     (static_cast<float>(p.codes[n * grid.cols + k]) - static_cast<float>(p.zeros[gi]));
                QCOMPARE(W[n * grid.cols + k], expect);
            }
    }

    void optimizedMatchesReference_data() {
        QTest::addColumn<int>("N");
        QTest::addColumn<int>("K");
        QTest::addColumn<int>("tile");
        QTest::addColumn<int>("group");
        QTest::addColumn<int>("width");
        const int shapes[][4] = {{1, 1000, 128, 64}, {172, 64, 128, 64},  {576, 1536, 128, 128}, {300, 260, 128, 32},
                                 {130, 384, 128, 16}, {200, 392, 64, 32}, {96, 512, 256, 256}};
        for (const auto& s : shapes)
            for (int b = 0; b <= 8; ++b) {
                if (b == 1) continue;
                QTest::newRow(qPrintable(QStringLiteral("%1x%2 t%3 g%4 %5").arg(s[0]).arg(s[1]).arg(s[2]).arg(s[3])
                                             .arg(b ? QStringLiteral("b%1").arg(b) : QStringLiteral("mixed"))))
                    << s[0] << s[1] << s[2] << s[3] << b;
            }
    }
    void optimizedMatchesReference() {
        QFETCH(int, N);
        QFETCH(int, K);
        QFETCH(int, tile);
        QFETCH(int, group);
        QFETCH(int, width);
        const TileGrid grid{static_cast<std::size_t>(N), static_cast<std::size_t>(K), static_cast<std::size_t>(tile),
                            static_cast<std::size_t>(tile), static_cast<std::size_t>(group)};
        const Packed p = make(grid, width, static_cast<std::uint64_t>(N * 31 + K * 7 + width));
        const int maxb = 16;
        const std::vector<float> x = activations(static_cast<std::size_t>(maxb) * grid.cols, 5);
        std::vector<float> ref(static_cast<std::size_t>(maxb) * grid.rows), got(ref.size());
        gemm_reference(p.m.view(), x.data(), maxb, ref.data());
        std::vector<double> tol(grid.rows);
        for (std::size_t n = 0; n < grid.rows; ++n) tol[n] = tolerance(p, n);
        for (int batch = 1; batch <= maxb; ++batch) {
            gemm_cpu(p.m.view(), x.data(), batch, got.data(), 2);
            for (int b = 0; b < batch; ++b)
                for (std::size_t n = 0; n < grid.rows; ++n) {
                    const std::size_t i = static_cast<std::size_t>(b) * grid.rows + n;
                    if (!(std::fabs(got[i] - ref[i]) <= tol[n]))
                        QFAIL(qPrintable(QStringLiteral("batch %1 y[%2][%3] = %4, reference %5 (tol %6)")
                                             .arg(batch).arg(b).arg(n).arg(got[i]).arg(ref[i]).arg(tol[n])));
                }
        }
    }

    // A NaN or infinite activation makes every output NaN, as in the reference, on every path
    // (the activation rounding must not convert a NaN to an integer: UBSan checks that here).
    void nonFiniteActivationsGiveNaN_data() {
        QTest::addColumn<int>("group");
        QTest::addColumn<float>("bad");
        for (int g : {16, 64, 128}) {
            QTest::newRow(qPrintable(QStringLiteral("g%1 nan").arg(g))) << g << std::numeric_limits<float>::quiet_NaN();
            QTest::newRow(qPrintable(QStringLiteral("g%1 inf").arg(g))) << g << std::numeric_limits<float>::infinity();
        }
    }
    void nonFiniteActivationsGiveNaN() {
        QFETCH(int, group);
        QFETCH(float, bad);
        const TileGrid grid{130, 384, 128, 128, static_cast<std::size_t>(group)};
        const Packed p = make(grid, 3, 11);
        std::vector<float> x = activations(2 * grid.cols, 6);
        x[200] = bad;                // first batch item, inside a full chunk
        x[grid.cols + 383] = bad;    // second batch item, last column
        std::vector<float> ref(2 * grid.rows), got(ref.size());
        gemm_reference(p.m.view(), x.data(), 2, ref.data());
        gemm_cpu(p.m.view(), x.data(), 2, got.data(), 2);
        for (std::size_t i = 0; i < got.size(); ++i) {
            QVERIFY2(!std::isfinite(ref[i]), qPrintable(QString::number(i)));
            QVERIFY2(std::isnan(got[i]) || std::isinf(got[i]), qPrintable(QStringLiteral("y[%1] = %2").arg(i).arg(got[i])));
        }
    }

    // Dense fp16 GEMV (the unquantized vocabulary matrices of an export) against its reference, on
    // shapes that are not multiples of the 16-column step or the 64-row blocks, batch 1 to 6.
    void f16GemmMatchesReference_data() {
        QTest::addColumn<int>("N");
        QTest::addColumn<int>("K");
        QTest::addColumn<int>("batch");
        QTest::newRow("1x1") << 1 << 1 << 1;
        QTest::newRow("67x45 b1") << 67 << 45 << 1;
        QTest::newRow("200x576 b3") << 200 << 576 << 3;
        QTest::newRow("513x129 b6") << 513 << 129 << 6;
    }
    void f16GemmMatchesReference() {
        QFETCH(int, N);
        QFETCH(int, K);
        QFETCH(int, batch);
        std::mt19937 rng(static_cast<unsigned>(N * 7 + K));
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::vector<std::uint16_t> W(static_cast<std::size_t>(N) * K);
        for (auto& w : W) w = float_to_half(nd(rng) * 0.05f);
        std::vector<float> x(static_cast<std::size_t>(batch) * K), want(static_cast<std::size_t>(batch) * N),
            got(want.size());
        for (auto& v : x) v = nd(rng);
        gemm_f16_reference(W.data(), N, K, x.data(), batch, want.data());
        gemm_f16_cpu(W.data(), N, K, x.data(), batch, got.data());
        for (int b = 0; b < batch; ++b)
            for (int n = 0; n < N; ++n) {
                // Both sum the same fp32 products in different orders: bound by K ulps of sum |w x|.
                double mag = 0;
                for (int k = 0; k < K; ++k)
                    mag += std::fabs(half_to_float(W[static_cast<std::size_t>(n) * K + k]) * x[static_cast<std::size_t>(b) * K + k]);
                const std::size_t i = static_cast<std::size_t>(b) * N + n;
                QVERIFY2(std::fabs(got[i] - want[i]) <= K * 0x1.0p-23 * mag + 1e-30,
                         qPrintable(QStringLiteral("row %1 batch %2: %3 vs %4").arg(n).arg(b).arg(got[i]).arg(want[i])));
            }
    }

    void cudaMatchesReferenceWhenPresent() {
        if (!cuda_available()) QSKIP("no CUDA device");
        const TileGrid grid{300, 520, 128, 128, 64};
        const Packed p = make(grid, 0, 77);
        const int maxb = 16;
        const std::vector<float> x = activations(static_cast<std::size_t>(maxb) * grid.cols, 9);
        std::vector<std::uint16_t> xh(x.size());
        std::vector<float> xr(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) xr[i] = half_to_float(xh[i] = float_to_half(x[i]));
        std::vector<float> ref(static_cast<std::size_t>(maxb) * grid.rows), got(ref.size());
        gemm_reference(p.m.view(), xr.data(), maxb, ref.data());
        CudaPackedMatrix dm(p.m.view());
        DeviceBuffer dx(xh.size() * 2), dy(ref.size() * 4);
        dx.upload(xh.data(), xh.size() * 2);
        for (int batch = 1; batch <= maxb; ++batch) {
            dm.gemm(dx.get(), batch, static_cast<float*>(dy.get()));
            dy.download(got.data(), static_cast<std::size_t>(batch) * grid.rows * 4);
            for (std::size_t i = 0; i < static_cast<std::size_t>(batch) * grid.rows; ++i)
                QVERIFY2(std::fabs(got[i] - ref[i]) <= cuda_tolerance(p, i % grid.rows),
                         qPrintable(QStringLiteral("batch %1 index %2: %3 vs %4").arg(batch).arg(i).arg(got[i]).arg(ref[i])));
        }
    }

    // Jobs back to back (workers spinning), and after pauses longer than the pool's 50 us spin
    // (workers and the caller blocking): each part of each job runs exactly once, before the call
    // returns, whichever thread takes it; a part's exception reaches the caller and the pool goes
    // on; a nested call runs inline.
    void threadPoolRunsEveryPartOnce() {
        constexpr int kMostParts = 7;
        std::vector<std::atomic<int>> hits(kMostParts);
        for (int job = 0; job < 200000; ++job) {
            const int parts = 1 + job % kMostParts;
            for (int p = 0; p < parts; ++p) hits[static_cast<std::size_t>(p)] = 0;
            parallel_for(parts, [&](int p) {
                if (job % 10000 == 9999) std::this_thread::sleep_for(std::chrono::microseconds(200));
                hits[static_cast<std::size_t>(p)].fetch_add(1);
            });
            for (int p = 0; p < parts; ++p)
                if (hits[static_cast<std::size_t>(p)].load() != 1)
                    QFAIL(qPrintable(QStringLiteral("job %1 part %2 ran %3 times").arg(job).arg(p).arg(hits[static_cast<std::size_t>(p)].load())));
            if (job % 5000 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
        }
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, parallel_for(4, [](int p) {
            if (p == 2) throw std::runtime_error("part 2");
        }));
        std::atomic<int> inner{0};
        parallel_for(2, [&](int) { parallel_for(3, [&](int) { inner.fetch_add(1); }); });
        QCOMPARE(inner.load(), 6);
    }

    void invalidInputIsRejected() {
        const TileGrid grid{64, 64, 64, 64, 32};
        Packed p = make(grid, 3, 1);
        PackedMatrixView v = p.m.view();
        std::uint8_t bad_width = 9;
        v.widths = &bad_width;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, validate(v));
        v = p.m.view();
        v.data_bytes -= 1;  // truncated data
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, validate(v));
        std::uint64_t odd_offset = 8;
        v = p.m.view();
        v.tile_offsets = &odd_offset;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, validate(v));
        // Codes wider than the tile's width, and groups that do not divide the tile.
        p.codes[0] = 8;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 pack_matrix(grid, p.widths.data(), p.codes.data(), p.scales.data(), p.zeros.data()));
        const TileGrid bad_group{64, 64, 64, 64, 48};
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, bad_group.validate());
    }
};

QTEST_APPLESS_MAIN(TstKernels)
#include "tst_kernels.moc"
