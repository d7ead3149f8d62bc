// Time from a budget change (the slider's value) to the repainted width heatmap, in the whole main
// window (table, histogram, rate-quality marker and totals update too). What is asserted is that
// every change repaints the heatmap; the times are printed (qInfo), never asserted, because they
// measure the machine's load as much as the code.
#include <QSlider>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <filesystem>

#include "hang_guard.h"

#include "core/analysis/analysis_file.h"
#include "core/analysis/synthetic.h"
#include "ui/main_window.h"
#include "ui/views/model_map.h"
#include "ui/views/budget_panel.h"
#include "ui/views/heatmap_plot.h"
#include "ui/views/heatmap_view.h"

using namespace scalebits;
using scalebits::testing::kHangGuardMs;

class TestResponsiveness : public QObject {
    Q_OBJECT

    void measure(const analysis::SyntheticOptions& options, const char* label, double targetMs) {
        QElapsedTimer setup;
        setup.start();
        measure(std::make_shared<const analysis::Analysis>(analysis::make_synthetic_analysis(options)), label, targetMs,
                setup);
    }

    void measure(std::shared_ptr<const analysis::Analysis> a, const char* label, double targetMs, QElapsedTimer setup) {
        const qint64 generated = setup.elapsed();
        ui::MainWindow window;
        QSignalSpy curves(window.controller(), &ui::AllocationController::rateQualityChanged);
        QSignalSpy first(window.controller(), &ui::AllocationController::allocationChanged);
        window.setAnalysis(a, QString::fromLatin1(label));
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        // The allocators are built in a worker; the first allocation on screen is when the heatmaps,
        // table and slider are live. The rate-quality curves come after it, from another worker.
        QTRY_COMPARE_WITH_TIMEOUT(first.count(), 1, kHangGuardMs);
        const qint64 usable = setup.elapsed();
        QTRY_COMPARE_WITH_TIMEOUT(curves.count(), 1, kHangGuardMs);
        qInfo("%s: %lld tiles, generated or loaded in %lld ms, first allocation on screen after %lld ms, rate-quality "
              "curves after %lld ms", label, qlonglong(a->total_tiles()), qlonglong(generated), qlonglong(usable),
              qlonglong(setup.elapsed()));
        // The largest matrix (gate_proj of layer 0) is the heaviest heatmap to repaint.
        window.layerView()->selectRow(4);
        QTest::qWait(100);

        // The model map in average-bits mode redraws on every budget change too.
        window.modelMap()->setColour(ui::ModelMap::Colour::Bits);
        ui::HeatmapPlot* plot = window.heatmaps()->plot(3);
        QSlider* slider = window.budgetPanel()->slider();
        QSignalSpy painted(plot, &ui::HeatmapPlot::painted);
        std::vector<double> ms, work;
        QElapsedTimer t;
        constexpr int kChanges = 50;
        for (int i = 0; i < kChanges; ++i) {
            painted.clear();
            const int position = 200 + (i * 37) % 600;  // jumps of various sizes across the range
            t.start();
            slider->setValue(position == slider->value() ? position + 1 : position);
            // Everything up to here ran synchronously: solve, summaries, table update and every plot's
            // replot into its buffer. What follows is the wait for the platform's next paint.
            work.push_back(double(t.nsecsElapsed()) / 1e6);
            while (painted.isEmpty() && t.elapsed() < kHangGuardMs) QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
            QVERIFY2(!painted.isEmpty(), "the width heatmap was not repainted (hang guard)");
            ms.push_back(double(t.nsecsElapsed()) / 1e6);
        }
        std::sort(ms.begin(), ms.end());
        std::sort(work.begin(), work.end());
        const double median = ms[ms.size() / 2], worst = ms.back();
        qInfo("%s: budget change -> repainted heatmap over %d changes: median %.2f ms, worst %.2f ms (target %.0f ms); "
              "of which synchronous work (solve + all views redrawn into their buffers): median %.2f ms, worst %.2f ms",
              label, kChanges, median, worst, targetMs, work[work.size() / 2], work.back());
        // Tile pins (the tile inspector): the allocators take the pin on the UI thread, sharing all
        // but the pins, and the new solution is out before setTilePin returns; then the repaint.
        // Three pins, then the three unpinned again.
        std::vector<double> pin_ms, pin_work;
        auto* controller = window.controller();
        const int pinned_matrix = window.heatmaps()->matrix();
        for (int i = 0; i < 6; ++i) {
            painted.clear();
            QSignalSpy solved(controller, &ui::AllocationController::solutionChanged);
            t.start();
            controller->setTilePin(pinned_matrix, i % 3, i < 3 ? 8 : 0);
            pin_work.push_back(double(t.nsecsElapsed()) / 1e6);
            QVERIFY2(solved.count() == 1, "a tile pin must be answered before setTilePin returns");
            while (painted.isEmpty() && t.elapsed() < kHangGuardMs) QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
            QVERIFY2(!painted.isEmpty(), "no repaint after a tile pin (hang guard)");
            pin_ms.push_back(double(t.nsecsElapsed()) / 1e6);
        }
        std::sort(pin_ms.begin(), pin_ms.end());
        std::sort(pin_work.begin(), pin_work.end());
        qInfo("%s: tile pin or unpin -> repainted heatmap over %d changes: median %.2f ms, worst %.2f ms; of which "
              "synchronous work (allocators re-pinned, solve, views redrawn): median %.2f ms, worst %.2f ms",
              label, int(pin_ms.size()), pin_ms[pin_ms.size() / 2], pin_ms.back(), pin_work[pin_work.size() / 2],
              pin_work.back());
        QElapsedTimer m;
        m.start();
        constexpr int kRedraws = 10;
        for (int i = 0; i < kRedraws; ++i) window.modelMap()->plot()->replot(QCustomPlot::rpImmediateRefresh);
        qInfo("%s: model map of %d x %d cells redrawn in %.2f ms", label, window.modelMap()->rows(),
              window.modelMap()->columns(), double(m.nsecsElapsed()) / 1e6 / kRedraws);
    }

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);  // keep the user's settings out of it
        QCoreApplication::setOrganizationName(QStringLiteral("scalebits-tests"));
    }
    void smollm2Sized() { measure(analysis::smollm2_like(), "SmolLM2-135M-shaped", 16.0); }
    // 500,000 tiles saved as an analysis file, then loaded and shown (what File > Open does); "ready"
    // is the open time a user waits.
    void halfMillionTilesFromAFile() {
        QTemporaryDir tmp;
        const std::string file = tmp.filePath(QStringLiteral("500k.sba")).toStdString();
        analysis::save_analysis(analysis::make_synthetic_analysis(analysis::llama_like_for_tiles(500000)), file);
        QElapsedTimer setup;
        setup.start();
        auto a = std::make_shared<const analysis::Analysis>(analysis::load_analysis(file));
        qInfo("500k tiles: analysis file of %lld bytes loaded in %lld ms", qlonglong(std::filesystem::file_size(file)),
              qlonglong(setup.elapsed()));
        measure(a, "500k tiles from a file", 50.0, setup);
    }
    // A real analysis file, when SCALEBITS_ANALYSIS names one (e.g. the SmolLM2 analysis).
    void analysisFile() {
        const QString file = qEnvironmentVariable("SCALEBITS_ANALYSIS");
        if (file.isEmpty()) QSKIP("set SCALEBITS_ANALYSIS to an analysis file to measure it");
        QElapsedTimer setup;
        setup.start();
        auto a = std::make_shared<const analysis::Analysis>(analysis::load_analysis(file.toStdString()));
        measure(a, qPrintable(file), 16.0, setup);
    }
};

QTEST_MAIN(TestResponsiveness)
#include "tst_responsiveness.moc"
