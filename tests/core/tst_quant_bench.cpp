// Quantizer timings on SmolLM2-135M shapes (printed; the bounds only catch pathological slowness,
// e.g. a per-group loop instead of tensor ops). Figures are meaningful in a Release build.
// LibTorch before Qt: Qt's `slots` keyword macro breaks torch's IValue::slots().
#include <torch/torch.h>

#include <QElapsedTimer>
#include <QtTest>

#include "core/quant/gptq.h"
#include "core/quant/rtn.h"
#include "core/quant/tile_costs.h"

using namespace scalebits::quant;

class TestQuantBench : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { torch::manual_seed(7); }

    void rtnFourWidths() {
        auto w = torch::randn({1536, 576}) * 0.02;
        auto fisher = torch::rand({1536, 576}).square();
        const auto spec = TileSpec::automatic({1536, 576});
        quantize_rtn(w, spec, 4, ErrorWeights::fisher(fisher));  // warm-up
        // Best of three: the build machine is shared, so single runs are noisy.
        qint64 rtn_ms = 1 << 30, plain_ms = 1 << 30, table_ms = 1 << 30;
        TileCostTable table;
        for (int rep = 0; rep < 3; ++rep) {
            QElapsedTimer timer;
            timer.start();
            for (int bits : {2, 3, 4, 8}) quantize_rtn(w, spec, bits, ErrorWeights::fisher(fisher));
            rtn_ms = std::min(rtn_ms, timer.restart());
            for (int bits : {2, 3, 4, 8}) quantize_rtn(w, spec, bits, {}, RtnOptions::no_clip());
            plain_ms = std::min(plain_ms, timer.restart());
            table = tile_costs(w, spec, {2, 3, 4, 8}, ErrorWeights::fisher(fisher));
            table_ms = std::min(table_ms, timer.elapsed());
        }
        qInfo("1536x576 %s, widths 2,3,4,8: RTN+clip (9 candidates, Fisher) %lld ms; plain RTN "
              "%lld ms; tile cost table %lld ms; torch threads %d",
              spec.to_string().c_str(), rtn_ms, plain_ms, table_ms, torch::get_num_threads());
        QCOMPARE(table.costs.size(0), 12 * 5);
        QVERIFY(rtn_ms < 20000);
    }

    void gptq_data() {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        QTest::newRow("1536x576") << 1536 << 576;
        QTest::newRow("576x1536") << 576 << 1536;
    }
    void gptq() {
        QFETCH(int, rows);
        QFETCH(int, cols);
        auto w = torch::randn({rows, cols}) * 0.02;
        auto x = torch::randn({2048, cols});
        auto h = x.t().matmul(x);
        const auto spec = TileSpec::automatic({rows, cols});
        QElapsedTimer timer;
        timer.start();
        auto q = quantize_gptq(w, h, spec, 3);
        const qint64 ms = timer.elapsed();
        timer.restart();
        auto r = quantize_rtn(w, spec, 3);
        const qint64 rtn_ms = timer.elapsed();
        qInfo("GPTQ 3 bits %dx%d (H %dx%d, %s): %lld ms (RTN+clip: %lld ms); output error "
              "GPTQ/RTN = %.3f",
              rows, cols, cols, cols, spec.to_string().c_str(), ms, rtn_ms,
              output_error(w, q.dequantize(), h) / output_error(w, r.dequantize(), h));
        QVERIFY(ms < 60000);
    }
};

QTEST_APPLESS_MAIN(TestQuantBench)
#include "tst_quant_bench.moc"
