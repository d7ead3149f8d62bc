// The compare view: two allocations chosen with real key events, each equal to core's allocate for
// its method and budget, the tile-by-tile difference B - A, and no difference across layouts.
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLineEdit>
#include <QSignalSpy>
#include <QtTest>

#include <cmath>

#include "explorer_fixtures.h"
#include "hang_guard.h"

#include "core/analysis/allocation.h"
#include "core/analysis/synthetic.h"
#include "ui/controllers/allocation_controller.h"
#include "ui/views/compare_dialog.h"

using namespace scalebits;
using scalebits::testing::kHangGuardMs;

class TestCompare : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void twoBudgetsAndTwoMethods() {
        auto o = analysis::smollm2_like(9);
        o.config.n_layers = 3;
        const auto a = std::make_shared<const analysis::Analysis>(analysis::make_synthetic_analysis(o));
        ui::AllocationController controller;
        QSignalSpy ready(&controller, &ui::AllocationController::analysisReady);
        controller.setAnalysis(a);
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, kHangGuardMs);
        controller.setBudget(3.0);
        constexpr int kMatrix = 4;  // gate_proj of layer 0
        ui::CompareDialog dialog(&controller, kMatrix);
        dialog.show();
        QVERIFY(QTest::qWaitForWindowExposed(&dialog));

        // B's budget typed in: 5 bits.
        QDoubleSpinBox* b = dialog.budgetBox(1);
        b->setFocus();
        b->selectAll();
        QTest::keyClicks(b, QStringLiteral("5"));
        QTest::keyClick(b, Qt::Key_Return);
        QCOMPARE(b->value(), 5.0);
        const auto wantA = analysis::allocate(*a, AllocMethod::ScaleBits, Budget::bits_per_weight(3.0));
        const auto wantB = analysis::allocate(*a, AllocMethod::ScaleBits, Budget::bits_per_weight(5.0));
        QCOMPARE(dialog.solution(0)->current->widths, wantA.widths);
        QCOMPARE(dialog.solution(1)->current->widths, wantB.widths);
        QVERIFY(dialog.summary(1).contains(QLocale().formattedDataSize(wantB.total_bytes, 2, QLocale::DataSizeSIFormat)));
        const auto& m = a->matrices[kMatrix];
        const auto first = dialog.solution(0)->tile_offsets[kMatrix];
        double moved = 0;
        for (int r = 0; r < int(m.grid_rows()); ++r)
            for (int c = 0; c < int(m.grid_cols()); ++c) {
                const std::size_t t = std::size_t(first + r * m.grid_cols() + c);
                const double want = double(wantB.widths[t]) - double(wantA.widths[t]);
                QCOMPARE(dialog.differenceAt(r, c), want);
                moved += want;
            }
        QVERIFY(moved > 0);  // more bits somewhere in this matrix

        // B as layer, same layout: still a difference; B as tile-noreorder: other layout, none.
        dialog.methodBox(1)->setFocus();
        dialog.methodBox(1)->setCurrentText(QStringLiteral("layer"));
        QCOMPARE(dialog.solution(1)->current->widths,
                 analysis::allocate(*a, AllocMethod::Layer, Budget::bits_per_weight(5.0)).widths);
        QVERIFY(std::isfinite(dialog.differenceAt(0, 0)));
        dialog.methodBox(1)->setCurrentText(QStringLiteral("tile-noreorder"));
        QVERIFY(std::isnan(dialog.differenceAt(0, 0)));
        QVERIFY(dialog.differenceNote().contains(QStringLiteral("different layouts")));
        // The main window's allocation did not move.
        QCOMPARE(controller.budget(), 3.0);
        QCOMPARE(controller.solution()->current->widths, wantA.widths);
    }
};

QTEST_MAIN(TestCompare)
#include "tst_compare.moc"
