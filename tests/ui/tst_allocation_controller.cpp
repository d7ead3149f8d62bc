// The controller answers budget and method changes with allocations equal to what the core allocators
// give for the same problem, and the budget panel's slider drives it.
#include <QComboBox>
#include <QLineEdit>
#include <QSlider>
#include <QtTest>

#include "hang_guard.h"

#include "core/alloc/allocator.h"
#include "core/alloc/methods.h"
#include "core/analysis/allocation.h"
#include "core/analysis/problem.h"
#include "core/analysis/synthetic.h"
#include "ui/controllers/allocation_controller.h"
#include "ui/views/budget_panel.h"

using namespace scalebits;
using scalebits::testing::kHangGuardMs;
using scalebits::ui::AllocationController;

namespace {
std::shared_ptr<const analysis::Analysis> smallAnalysis() {
    auto o = analysis::smollm2_like(3);
    o.config.n_layers = 4;
    return std::make_shared<const analysis::Analysis>(analysis::make_synthetic_analysis(o));
}

void compareAllocations(const TileAllocation& got, const TileAllocation& want) {
    QCOMPARE(got.widths, want.widths);
    QCOMPARE(got.bits, want.bits);
    QCOMPARE(got.quantized_bytes, want.quantized_bytes);
    QCOMPARE(got.total_bytes, want.total_bytes);
    QCOMPARE(got.avg_bits, want.avg_bits);
    QCOMPARE(got.predicted_loss, want.predicted_loss);
}
}  // namespace

class TestAllocationController : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // Pins rebuild the allocators; the next allocation holds them and equals the core's for the
    // same constrained problem.
    void pinsHold() {
        AllocationController controller;
        QSignalSpy ready(&controller, &AllocationController::analysisReady);
        const auto a = smallAnalysis();
        controller.setAnalysis(a);
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, kHangGuardMs);
        analysis::ProblemOptions pins;
        pins.constraints["down_proj"].pinned_bits = 8;
        QSignalSpy allocations(&controller, &AllocationController::allocationChanged);
        controller.setConstraints(pins);
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 2, kHangGuardMs);
        QVERIFY(allocations.count() >= 1);
        const auto got = allocations.last().first().value<std::shared_ptr<const TileAllocation>>();
        pins.reordered = true;
        const auto problem = analysis::make_tile_problem(*a, pins);
        const TileAllocator reference(problem);
        compareAllocations(*got, reference.solve(Budget::bits_per_weight(controller.budget())));
        std::size_t t = 0;
        for (const auto& m : problem.matrices)
            for (std::int64_t i = 0; i < m.tile_count(); ++i, ++t)
                if (m.name.find("down_proj") != std::string::npos) QCOMPARE(int(got->widths[t]), 8);
    }

    // A pin that raises the cheapest allocation above the budget on screen: the range follows
    // (rangeChanged), the budget is clamped to the new minimum and the solution is solved there, all
    // before setTilePin returns. A pin while the allocators are being built joins that build.
    void tilePinsMoveTheRangeAndJoinABuild() {
        AllocationController controller;
        QSignalSpy ready(&controller, &AllocationController::analysisReady);
        const auto a = smallAnalysis();
        controller.setAnalysis(a);
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, kHangGuardMs);
        controller.setBudget(controller.minBits());
        const double before = controller.minBits();
        QSignalSpy range(&controller, &AllocationController::rangeChanged);
        QSignalSpy solutions(&controller, &AllocationController::solutionChanged);
        QSignalSpy errors(&controller, &AllocationController::errorOccurred);
        for (qint64 t = 0; t < 3; ++t) controller.setTilePin(0, t, 8);
        QCOMPARE(errors.count(), 0);
        QCOMPARE(range.count(), 3);
        QCOMPARE(solutions.count(), 3);
        QVERIFY(controller.minBits() > before);
        QCOMPARE(range.last().at(0).toDouble(), controller.minBits());
        QCOMPARE(controller.budget(), controller.minBits());
        const auto s = controller.solution();
        for (qint64 t = 0; t < 3; ++t) QCOMPARE(int(s->current->widths[std::size_t(s->tile_offsets[0] + t)]), 8);
        QVERIFY(s->current->bits <= s->current->budget_bits);
        // A bad pin (a width that is no candidate) is refused and the pins on screen stay.
        controller.setTilePin(0, 5, 1);
        QCOMPARE(errors.count(), 1);
        QCOMPARE(controller.tilePin(0, 5), 0);
        QCOMPARE(controller.tilePin(0, 1), 8);
        // During a build (new constraints) the pin waits for it, then holds.
        analysis::ProblemOptions limits;
        limits.constraints["down_proj"].max_bits = 4;
        limits.tile_pins = controller.constraints().tile_pins;
        controller.setConstraints(limits);
        QVERIFY(!controller.ready());
        controller.setTilePin(1, 0, 2);
        QTRY_VERIFY_WITH_TIMEOUT(controller.ready() && controller.solution(), kHangGuardMs);
        QCOMPARE(controller.tilePin(1, 0), 2);
        const auto p = controller.solution();
        QCOMPARE(int(p->current->widths[std::size_t(p->tile_offsets[1])]), 2);
        QCOMPARE(int(p->current->widths[std::size_t(p->tile_offsets[0])]), 8);
    }

    void budgetChangeGivesCoreAllocation() {
        AllocationController controller;
        QSignalSpy ready(&controller, &AllocationController::analysisReady);
        QSignalSpy allocations(&controller, &AllocationController::allocationChanged);
        const auto a = smallAnalysis();
        controller.setAnalysis(a);
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, kHangGuardMs);
        QCOMPARE(allocations.count(), 1);  // the first solution follows the analysis at once

        const auto problem = analysis::make_tile_problem(*a, {});
        const TileAllocator reference(problem);
        QCOMPARE(controller.minBits(), reference.min_avg_bits());
        QCOMPARE(controller.maxBits(), reference.max_avg_bits());

        for (double bits : {2.6, 3.0, 4.25, 5.5}) {
            allocations.clear();
            controller.setBudget(bits);
            QCOMPARE(allocations.count(), 1);
            const auto got = allocations.takeFirst().at(0).value<std::shared_ptr<const TileAllocation>>();
            QVERIFY(got);
            compareAllocations(*got, reference.solve(Budget::bits_per_weight(bits)));
            QVERIFY(got->avg_bits <= bits);
        }
        // A lower budget never gives a larger file.
        controller.setBudget(3.0);
        const auto a3 = controller.solution()->current;
        controller.setBudget(2.8);
        QVERIFY(controller.solution()->current->total_bytes <= a3->total_bytes);
    }

    // Every method at a few budgets: the controller's allocation is the one core's allocate() gives
    // (the CLI's allocate and export), same layout and table, and the Allocation it hands to
    // evaluation and export carries the same widths.
    void everyMethodMatchesCore_data() {
        QTest::addColumn<QString>("method");
        QTest::addColumn<double>("budget");
        for (const QString& m : AllocationController::methodNames())
            for (double b : {2.6, 3.7, 5.3}) QTest::addRow("%s at %.1f", qPrintable(m), b) << m << b;
    }
    void everyMethodMatchesCore() {
        QFETCH(QString, method);
        QFETCH(double, budget);
        AllocationController controller;
        QSignalSpy ready(&controller, &AllocationController::analysisReady);
        const auto a = smallAnalysis();
        controller.setAnalysis(a);
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, kHangGuardMs);
        controller.setBudget(budget);
        controller.setMethod(method);
        const auto s = controller.solution();
        QVERIFY(s && s->current && s->allocation());
        const AllocMethod m = parse_alloc_method(method.toStdString());
        const analysis::Allocation want = analysis::allocate(*a, m, Budget::bits_per_weight(budget));
        QCOMPARE(s->current->widths, want.widths);
        QCOMPARE(s->current->total_bytes, want.total_bytes);
        QCOMPARE(s->current->predicted_loss, want.predicted_loss);
        QCOMPARE(s->allocation()->widths, want.widths);
        QCOMPARE(s->allocation()->reordered, want.reordered);
        QCOMPARE(s->allocation()->method, m);
        QCOMPARE(s->allocation()->weights_per_width, want.weights_per_width);
        // Both layouts are always there for the side-by-side heatmaps.
        QVERIFY(s->original_layout && s->reordered_layout);
        QCOMPARE(s->summary.matrices.size(), a->matrices.size());
    }

    void unknownMethodAndInfeasibleBudgetAreErrors() {
        AllocationController controller;
        QSignalSpy ready(&controller, &AllocationController::analysisReady);
        QSignalSpy errors(&controller, &AllocationController::errorOccurred);
        controller.setAnalysis(smallAnalysis());
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, kHangGuardMs);
        controller.setMethod(QStringLiteral("no-such-method"));
        QCOMPARE(errors.count(), 1);
        QCOMPARE(controller.method(), QStringLiteral("scalebits"));
        const auto before = controller.solution();
        controller.setBudget(0.5);  // below every tile at 2 bits
        QCOMPARE(errors.count(), 2);
        QCOMPARE(controller.solution(), before);  // the last good answer stays
    }

    void sliderDrivesController() {
        AllocationController controller;
        ui::BudgetPanel panel;
        connect(&panel, &ui::BudgetPanel::budgetRequested, &controller, &AllocationController::setBudget);
        connect(&panel, &ui::BudgetPanel::methodRequested, &controller, &AllocationController::setMethod);
        QSignalSpy ready(&controller, &AllocationController::analysisReady);
        controller.setAnalysis(smallAnalysis());
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, kHangGuardMs);
        panel.setRange(controller.minBits(), controller.maxBits());
        panel.setBudget(controller.budget());
        panel.show();

        QSignalSpy allocations(&controller, &AllocationController::allocationChanged);
        panel.slider()->setFocus();
        QTest::keyClick(panel.slider(), Qt::Key_PageUp);
        QCOMPARE(allocations.count(), 1);
        QCOMPARE(controller.budget(), panel.budget());
        const auto up = allocations.takeFirst().at(0).value<std::shared_ptr<const TileAllocation>>();
        QTest::keyClick(panel.slider(), Qt::Key_PageDown);
        QTest::keyClick(panel.slider(), Qt::Key_PageDown);
        QCOMPARE(allocations.count(), 2);
        const auto down = allocations.takeLast().at(0).value<std::shared_ptr<const TileAllocation>>();
        QVERIFY(down->total_bytes < up->total_bytes);

        allocations.clear();
        panel.methodBox()->setCurrentText(QStringLiteral("layer"));
        QCOMPARE(controller.method(), QStringLiteral("layer"));
        QCOMPARE(allocations.count(), 1);
    }

    // Arrow keys on the slider step the budget by exactly 0.01 bits, Page Up/Down by 0.1; a size
    // typed in the size field (MB or bytes) solves for the largest allocation that fits it.
    void keysStepTheBudgetAndTheSizeFieldTakesASize() {
        AllocationController controller;
        ui::BudgetPanel panel;
        connect(&panel, &ui::BudgetPanel::budgetRequested, &controller, &AllocationController::setBudget);
        connect(&panel, &ui::BudgetPanel::sizeRequested, &controller, &AllocationController::setBudgetBytes);
        connect(&controller, &AllocationController::solutionChanged, &panel, &ui::BudgetPanel::showSolution);
        QSignalSpy ready(&controller, &AllocationController::analysisReady);
        controller.setAnalysis(smallAnalysis());
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, kHangGuardMs);
        panel.setRange(controller.minBits(), controller.maxBits());
        controller.setBudget(4.0);
        panel.setBudget(4.0);
        panel.show();
        panel.slider()->setFocus();
        QTest::keyClick(panel.slider(), Qt::Key_Right);
        QCOMPARE(controller.budget(), 4.01);
        QTest::keyClick(panel.slider(), Qt::Key_PageUp);
        QCOMPARE(controller.budget(), 4.11);
        QTest::keyClick(panel.slider(), Qt::Key_Down);
        QTest::keyClick(panel.slider(), Qt::Key_PageDown);
        QCOMPARE(controller.budget(), 4.0);
        QCOMPARE(panel.budget(), 4.0);

        const auto smaller = analysis::allocate(*controller.analysis(), AllocMethod::ScaleBits, Budget::bits_per_weight(3.7));
        const std::int64_t target = smaller.total_bytes + 1000;
        QCOMPARE(ui::BudgetPanel::parseSize(QStringLiteral("70 MB")), qint64(70000000));
        QCOMPARE(ui::BudgetPanel::parseSize(QStringLiteral("1,5gb")), qint64(1500000000));
        QCOMPARE(ui::BudgetPanel::parseSize(QStringLiteral("12345")), qint64(12345));
        QCOMPARE(ui::BudgetPanel::parseSize(QStringLiteral("big")), qint64(0));
        panel.sizeField()->setFocus();
        panel.sizeField()->selectAll();
        QTest::keyClicks(panel.sizeField(), QString::number(target));
        QTest::keyClick(panel.sizeField(), Qt::Key_Return);
        const auto s = controller.solution();
        QVERIFY(s->current->total_bytes <= target);
        QVERIFY(s->current->total_bytes >= smaller.total_bytes);  // the largest that fits, not any
        QCOMPARE(controller.budget(), s->current->avg_bits);
        const auto want = analysis::allocate(*controller.analysis(), AllocMethod::ScaleBits, Budget::bytes(double(target)));
        QCOMPARE(s->current->widths, want.widths);
    }

    void rateQualityCurvesFromCore() {
        AllocationController controller;
        QSignalSpy curves(&controller, &AllocationController::rateQualityChanged);
        controller.setAnalysis(smallAnalysis());
        QTRY_COMPARE_WITH_TIMEOUT(curves.count(), 1, kHangGuardMs);
        const auto rq = curves.takeFirst().at(0).value<std::shared_ptr<const ui::RateQuality>>();
        QCOMPARE(rq->curves.size(), AllocationController::methodNames().size());
        const auto& sb = rq->curves.front();
        QCOMPARE(sb.method, QStringLiteral("scalebits"));
        QVERIFY(sb.avg_bits.size() > 10);
        // Predicted loss falls as the budget grows;
        for (qsizetype i = 1; i < sb.predicted_loss.size(); ++i) QVERIFY(sb.predicted_loss[i] <= sb.predicted_loss[i - 1]);
    }
};

QTEST_MAIN(TestAllocationController)
#include "tst_allocation_controller.moc"
