// The model map: one cell per matrix (layers by kinds, the vocabulary matrices in a last row), its
// values are the analysis's sensitivity shares and the allocation's average widths, it follows the
// slider, and a real click on a cell selects that matrix in the explorer. Also how long a redraw
// takes at 80 layers (reported, not asserted).
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTableView>
#include <QtTest>

#include <cmath>

#include "explorer_fixtures.h"
#include "hang_guard.h"

#include "core/analysis/summary.h"
#include "core/analysis/synthetic.h"
#include "ui/main_window.h"
#include "ui/models/layer_table_model.h"
#include "ui/views/heatmap_view.h"
#include "ui/views/model_map.h"

using namespace scalebits;
using scalebits::testing::kHangGuardMs;

namespace {
std::shared_ptr<const analysis::Analysis> syntheticAnalysis(int layers) {
    auto o = analysis::smollm2_like(7);
    o.config.n_layers = layers;
    return std::make_shared<const analysis::Analysis>(analysis::make_synthetic_analysis(o));
}
}  // namespace

class TestModelMap : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void cellsAreTheAnalysisAndTheAllocation() {
        const auto a = syntheticAnalysis(4);
        ui::MainWindow window;
        QVERIFY(scalebits::testing::show_analysis(window, a, QStringLiteral("synthetic")));
        auto* map = window.modelMap();
        const bool vocab = std::any_of(a->matrices.begin(), a->matrices.end(),
                                       [](const auto& m) { return analysis::is_vocab_kind(m.kind); });
        QCOMPARE(map->rows(), 4 + (vocab ? 1 : 0));
        const auto shares = analysis::sensitivity_shares(*a);
        int cells = 0;
        for (int r = 0; r < map->rows(); ++r)
            for (int c = 0; c < map->columns(); ++c) {
                const int m = map->matrixAt(r, c);
                if (m < 0) {
                    QVERIFY(std::isnan(map->cellValue(r, c)));
                    continue;
                }
                ++cells;
                const auto& mx = a->matrices[std::size_t(m)];
                QCOMPARE(mx.kind, c);
                QCOMPARE(analysis::is_vocab_kind(mx.kind) ? 4 : mx.layer, r);
                QCOMPARE(map->cellValue(r, c), std::max(1e-3, 100.0 * shares[std::size_t(m)]));
            }
        QCOMPARE(cells, int(a->matrices.size()));

        // Average bits, following the budget.
        map->setColour(ui::ModelMap::Colour::Bits);
        window.controller()->setBudget(3.0);
        const auto s3 = window.controller()->solution();
        QCOMPARE(map->cellValue(0, 6), s3->summary.matrices[std::size_t(map->matrixAt(0, 6))].avg_bits);
        window.controller()->setBudget(6.0);
        const double at6 = map->cellValue(0, 6);
        QCOMPARE(at6, window.controller()->solution()->summary.matrices[std::size_t(map->matrixAt(0, 6))].avg_bits);
    }

    // A real mouse click on the cell of layer 2's up_proj selects that matrix in the table and the
    // heatmaps.
    void clickSelectsTheMatrix() {
        const auto a = syntheticAnalysis(4);
        ui::MainWindow window;
        QVERIFY(scalebits::testing::show_analysis(window, a, QStringLiteral("synthetic")));
        window.resize(1500, 950);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        auto* map = window.modelMap();
        map->plot()->replot();
        const int want = map->matrixAt(2, 5);
        QVERIFY(want >= 0);
        QSignalSpy clicked(map, &ui::ModelMap::matrixClicked);
        QTest::mouseClick(map->plot(), Qt::LeftButton, {}, map->cellCenter(2, 5));
        QCOMPARE(clicked.count(), 1);
        QCOMPARE(clicked.first().first().toInt(), want);
        QCOMPARE(window.heatmaps()->matrix(), want);
        QCOMPARE(window.layerView()->currentIndex().siblingAtColumn(ui::LayerTableModel::Matrix).data(Qt::ToolTipRole).toString(),
                 QString::fromStdString(a->matrices[std::size_t(want)].name));
    }

    // 80 layers: every layer has its row, and a redraw after a budget change is timed.
    void eightyLayers() {
        const auto a = syntheticAnalysis(80);
        ui::ModelMap map;
        map.setAnalysis(a);
        map.resize(500, 600);
        map.show();
        QVERIFY(QTest::qWaitForWindowExposed(&map));
        QVERIFY(map.rows() >= 80);
        for (int r = 0; r < 80; ++r) QVERIFY(map.matrixAt(r, 0) >= 0);
        map.setColour(ui::ModelMap::Colour::Sensitivity);
        QElapsedTimer t;
        t.start();
        for (int i = 0; i < 20; ++i) map.plot()->replot(QCustomPlot::rpImmediateRefresh);
        qInfo("model map at 80 layers: %.2f ms per redraw", double(t.nsecsElapsed()) / 20e6);
    }
};

QTEST_MAIN(TestModelMap)
#include "tst_model_map.moc"
