// Heatmap cells hold exactly the analysis's numbers (also after a save/load round trip of the
// analysis file), width cells the allocation's, and the exports write what is shown.
#include <QTemporaryDir>
#include <QtTest>

#include "hang_guard.h"

#include "core/analysis/allocation.h"
#include "core/analysis/analysis_file.h"
#include "core/analysis/synthetic.h"
#include "core/util/error.h"
#include "ui/controllers/allocation_controller.h"
#include "ui/views/heatmap_plot.h"
#include "ui/views/heatmap_view.h"
#include "ui/main_window.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QMenu>
#include <QTimer>

using namespace scalebits;
using scalebits::testing::kHangGuardMs;
using scalebits::ui::HeatmapPlot;

namespace {
std::shared_ptr<const analysis::Analysis> smallAnalysis() {
    auto o = analysis::smollm2_like(11);
    o.config.n_layers = 2;
    return std::make_shared<const analysis::Analysis>(analysis::make_synthetic_analysis(o));
}

void compareSensitivity(const ui::HeatmapView& view, const analysis::MatrixAnalysis& m) {
    for (int layout = 0; layout < 2; ++layout) {
        const HeatmapPlot* p = view.plot(layout);
        QCOMPARE(p->gridRows(), int(m.grid_rows()));
        QCOMPARE(p->gridCols(), int(m.grid_cols()));
        const auto& fisher = layout ? m.fisher_reordered : m.fisher_original;
        for (int r = 0; r < m.grid_rows(); ++r)
            for (int c = 0; c < m.grid_cols(); ++c)
                QCOMPARE(p->cellValue(r, c), fisher[std::size_t(r * m.grid_cols() + c)]);
    }
}
}  // namespace

class TestHeatmap : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void cellsEqualAnalysisAndAllocation() {
        const auto a = smallAnalysis();
        ui::AllocationController controller;
        ui::HeatmapView view;
        connect(&controller, &ui::AllocationController::solutionChanged, &view, &ui::HeatmapView::setSolution);
        QSignalSpy ready(&controller, &ui::AllocationController::analysisReady);
        view.setAnalysis(a);
        controller.setAnalysis(a);
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, kHangGuardMs);
        controller.setBudget(3.3);
        for (int index : {0, 6, 13}) {  // q_proj of layer 0, down_proj of layer 0, down_proj of layer 1
            view.setMatrix(index);
            const auto& m = a->matrices[std::size_t(index)];
            compareSensitivity(view, m);
            const auto s = controller.solution();
            const auto offset = std::size_t(s->tile_offsets[std::size_t(index)]);
            for (int layout = 0; layout < 2; ++layout) {
                const auto& alloc = layout ? *s->reordered_layout : *s->original_layout;
                const HeatmapPlot* p = view.plot(2 + layout);
                for (int r = 0; r < m.grid_rows(); ++r)
                    for (int c = 0; c < m.grid_cols(); ++c)
                        QCOMPARE(p->cellValue(r, c), double(alloc.widths[offset + std::size_t(r * m.grid_cols() + c)]));
            }
            // The tooltip names the tile's weight ranges and S at every width.
            const QString tip = view.plot(1)->describeCell(0, 1);
            QVERIFY2(tip.contains(QStringLiteral("columns %1–%2").arg(m.tile_cols()).arg(2 * m.tile_cols() - 1)), qPrintable(tip));
            QCOMPARE(tip.count(QStringLiteral("S(")), int(a->widths.size()));
            QVERIFY(view.plot(3)->describeCell(0, 0).contains(QStringLiteral("chosen")));
            QVERIFY(view.plot(0)->describeCell(int(m.grid_rows()), 0).isEmpty());
        }
    }

    void cellsEqualAnalysisFile() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const auto path = dir.filePath(QStringLiteral("synthetic.analysis.safetensors")).toStdString();
        analysis::save_analysis(*smallAnalysis(), path);
        const auto loaded = std::make_shared<const analysis::Analysis>(analysis::load_analysis(path));
        ui::HeatmapView view;
        view.setAnalysis(loaded);
        view.setMatrix(5);
        compareSensitivity(view, loaded->matrices[5]);
    }

    // The tile inspector with real clicks in the main window: a left click pins a tile at its width
    // on screen (it then holds at budgets where the free allocation moves it), a right click's menu
    // pins it at another width, which changes its width, the predicted loss and the bytes in the next
    // solution; the result equals core's allocation with that pin.
    void tilePinByClick() {
        const auto a = smallAnalysis();
        ui::MainWindow window;
        QSignalSpy ready(window.controller(), &ui::AllocationController::analysisReady);
        window.setAnalysis(a, QStringLiteral("synthetic"));
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, kHangGuardMs);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        auto* c = window.controller();
        const int matrix = 6;  // down_proj of layer 0
        window.heatmaps()->setMatrix(matrix);
        HeatmapPlot* plot = window.heatmaps()->plot(3);  // allocated widths, reordered layout (scalebits)
        QVERIFY(c->pinsOnReorderedLayout());
        const int row = 1, col = 2;
        const qint64 tile = qint64(row) * plot->gridCols() + col;
        const auto index = [&] { return std::size_t(c->solution()->tile_offsets[matrix] + tile); };
        // The free allocation at a low and a high budget.
        const double lo = c->minBits() + 0.05, hi = c->maxBits() - 0.5;
        c->setBudget(lo);
        const int free_lo = c->solution()->current->widths[index()];
        c->setBudget(hi);
        const int free_hi = c->solution()->current->widths[index()];
        QVERIFY2(free_lo != free_hi, "the test tile must move with the budget");
        auto cellCenter = [&] {
            QCoreApplication::processEvents();  // a pending replot lays the axes out
            return QPoint(int(plot->xAxis->coordToPixel(col)), int(plot->yAxis->coordToPixel(row)));
        };

        // Within one frame: the new solution is out before the click's event handling returns (no
        // worker, no event loop turn), so the next paint shows it.
        QSignalSpy solutions(c, &ui::AllocationController::solutionChanged);
        QTest::mouseClick(plot, Qt::LeftButton, {}, cellCenter());
        QCOMPARE(solutions.count(), 1);
        QCOMPARE(c->tilePin(matrix, tile), free_hi);
        c->setBudget(lo);
        QCOMPARE(int(c->solution()->current->widths[index()]), free_hi);  // held where the free one moved it

        // Right click: the menu's "Pin tile N at" -> another width.
        const int target = free_hi == 2 ? 3 : 2;
        const auto before = c->solution();
        QElapsedTimer clock;
        QTimer::singleShot(50, this, [&] {
            auto* menu = qobject_cast<QMenu*>(QApplication::activePopupWidget());
            QVERIFY(menu);
            for (QAction* act : menu->actions())
                if (act->menu() && act->text().contains(QStringLiteral("Pin tile %1 at").arg(tile)))
                    for (QAction* w : act->menu()->actions())
                        if (w->text() == QStringLiteral("%1 bits").arg(target)) {
                            clock.start();
                            w->trigger();
                        }
            menu->close();
        });
        solutions.clear();
        qint64 arrived_ms = -1;
        const auto timing = connect(c, &ui::AllocationController::solutionChanged, this, [&] {
            if (arrived_ms < 0) arrived_ms = clock.elapsed();
        });
        QTest::mouseClick(plot, Qt::RightButton, {}, cellCenter());
        QCOMPARE(solutions.count(), 1);  // answered inside the menu's action, as for the click
        disconnect(timing);
        qInfo("pin at %d bits to the new solution: %lld ms (%lld tiles)", target, static_cast<long long>(arrived_ms),
              static_cast<long long>(c->solution()->current->widths.size()));
        const auto after = c->solution();
        QCOMPARE(int(after->current->widths[index()]), target);
        QCOMPARE(c->tilePin(matrix, tile), target);
        // The solver spends what the pin freed (or finds what it costs) elsewhere: another loss, and
        // bytes that still fit the budget.
        QVERIFY(after->current->predicted_loss != before->current->predicted_loss);
        QVERIFY(after->current->bits <= after->current->budget_bits);
        // The same as core's allocation with that pin.
        analysis::ProblemOptions o;
        o.tile_pins[a->matrices[matrix].name][tile] = target;
        const auto core = analysis::allocate(*a, AllocMethod::ScaleBits, Budget::bits_per_weight(c->budget()), o);
        QCOMPARE(core.widths, after->current->widths);
        QCOMPARE(core.total_bytes, after->current->total_bytes);
        // Its tooltip says so.
        QVERIFY(plot->describeCell(row, col).contains(QStringLiteral("pinned at %1 bits").arg(target)));
        // A click on the pinned tile unpins it, as promptly: the free allocation is back.
        solutions.clear();
        QTest::mouseClick(plot, Qt::LeftButton, {}, cellCenter());
        QCOMPARE(solutions.count(), 1);
        QCOMPARE(c->tilePin(matrix, tile), 0);
        const auto unpinned = analysis::allocate(*a, AllocMethod::ScaleBits, Budget::bits_per_weight(c->budget()));
        QCOMPARE(c->solution()->current->widths, unpinned.widths);
        QCOMPARE(c->solution()->current->predicted_loss, unpinned.predicted_loss);
    }

    void exportsWriteWhatIsShown() {
        const auto a = smallAnalysis();
        ui::HeatmapView view;
        view.resize(800, 600);
        view.setAnalysis(a);
        view.setMatrix(4);
        QTemporaryDir dir;
        const QString csv = dir.filePath(QStringLiteral("tiles.csv"));
        view.exportCsv(csv);
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly | QIODevice::Text));
        const QStringList lines = QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        const auto& m = a->matrices[4];
        QCOMPARE(lines.size(), int(1 + 2 * m.tile_count()));
        const QStringList first = lines[1].split(QLatin1Char(','));
        QCOMPARE(first[0], QString::fromStdString(m.name));
        QCOMPARE(first[8].toDouble(), m.fisher_original[0]);
        QCOMPARE(first[9].toDouble(), m.cost_original[0]);

        const QString png = dir.filePath(QStringLiteral("heatmaps.png"));
        view.exportImage(png);
        QImage image(png);
        QVERIFY(!image.isNull());
        const QString svg = dir.filePath(QStringLiteral("heatmaps.svg"));
        view.exportImage(svg);
        QFile s(svg);
        QVERIFY(s.open(QIODevice::ReadOnly));
        QVERIFY(s.readAll().contains("<svg"));
        QVERIFY_THROWS_EXCEPTION(InputError, view.exportCsv(dir.filePath(QStringLiteral("no/such/dir/x.csv"))));
    }
};

QTEST_MAIN(TestHeatmap)
#include "tst_heatmap.moc"
