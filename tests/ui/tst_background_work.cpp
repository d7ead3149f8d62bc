// Long work from the explorer: the background job reports progress, finishes, fails and stops at
// its next checkpoint on cancel; the export dialog exports stories260K and measures latency under the offscreen platform,
// and a cancelled export leaves no files; "Evaluate at this budget" adds a measured point.
#include <QDir>
#include <QFileInfo>
#include <QSemaphore>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QThreadPool>
#include <QtTest>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "hang_guard.h"
#include "explorer_fixtures.h"

#include "core/analysis/allocation.h"
#include "core/analysis/analyze.h"
#include "core/model/checkpoint.h"
#include "core/model/llama.h"
#include "ui/controllers/allocation_controller.h"
#include "ui/controllers/background_job.h"
#include "ui/main_window.h"
#include "ui/views/export_dialog.h"
#include "ui/views/rate_quality_plot.h"

using namespace scalebits;
using scalebits::testing::kHangGuardMs;

namespace {
const std::filesystem::path kData = SCALEBITS_SHARED_DATA;

std::shared_ptr<const analysis::Analysis> storiesAnalysis(const QString& file) {
    return scalebits::testing::stories_analysis(file.toStdString());
}

std::shared_ptr<const analysis::Allocation> allocation(const analysis::Analysis& a, double bits) {
    return std::make_shared<const analysis::Allocation>(analysis::allocate(a, AllocMethod::ScaleBits, Budget::bits_per_weight(bits)));
}
}  // namespace

class TestBackgroundWork : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    std::shared_ptr<const analysis::Analysis> analysis_;

private Q_SLOTS:
    void initTestCase() {
        Q_INIT_RESOURCE(scalebits);  // the icons live in the static ui library
        QVERIFY(tmp_.isValid());
        analysis_ = storiesAnalysis(tmp_.filePath(QStringLiteral("stories.sba")));
    }

    void jobReportsAndFinishes() {
        ui::BackgroundJob job;
        QSignalSpy progressed(&job, &ui::BackgroundJob::progressed);
        QSignalSpy finished(&job, &ui::BackgroundJob::finished);
        QVERIFY(job.start([](const Progress& p) {
            for (int i = 0; i <= 5; ++i) p.checkpoint(i, 5, "counting");
        }));
        QVERIFY(!job.start([](const Progress&) {}));  // one job at a time
        QVERIFY(finished.wait(kHangGuardMs));
        // Progress is throttled to 10 a second, but the first report and the last (done == total)
        // always pass, whatever the timing.
        QVERIFY(progressed.count() >= 2);
        QCOMPARE(progressed.first().at(0).toDouble(), 0.0);
        QCOMPARE(progressed.last().at(0).toDouble(), 1.0);
        QCOMPARE(progressed.last().at(1).toString(), QStringLiteral("counting"));
        QVERIFY(!job.running());
    }

    // The job's loop counts its units of work; the cancel is followed by at most one more unit (the
    // one that had already passed its checkpoint), however loaded the machine. The delay from the
    // cancel to the signal is reported only.
    void cancelStopsAtTheNextCheckpoint() {
        ui::BackgroundJob job;
        QSignalSpy cancelled(&job, &ui::BackgroundJob::cancelled);
        QSignalSpy finished(&job, &ui::BackgroundJob::finished);
        constexpr int kUnits = 5000;  // seconds of work: it ends by itself (finished) if the cancel is ignored
        auto units = std::make_shared<std::atomic<int>>(0);
        job.start([units](const Progress& p) {
            for (int i = 0; i < kUnits; ++i) {
                p.checkpoint(i, kUnits, "counting");
                ++*units;
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        });
        QTRY_VERIFY_WITH_TIMEOUT(units->load() >= 3, kHangGuardMs);
        QElapsedTimer t;
        t.start();
        job.cancel();
        const int at_cancel = units->load();  // read after the cancel: later units passed a checkpoint before it
        QTRY_VERIFY_WITH_TIMEOUT(cancelled.count() + finished.count() > 0, kHangGuardMs);
        qInfo("cancelled after %d units; the signal arrived %lld ms after the cancel (reported, not asserted)", at_cancel,
              qlonglong(t.elapsed()));
        QCOMPARE(finished.count(), 0);
        QCOMPARE(cancelled.count(), 1);
        QVERIFY2(units->load() - at_cancel <= 1, qPrintable(QString::number(units->load() - at_cancel)));
        QVERIFY(!job.running());
    }

    void errorsBecomeMessages() {
        ui::BackgroundJob job;
        QSignalSpy failed(&job, &ui::BackgroundJob::failed);
        job.start([](const Progress&) { model::load_checkpoint("/no/such/model.gguf"); });
        QVERIFY(failed.wait(kHangGuardMs));
        QVERIFY(failed.first().first().toString().contains(QStringLiteral("/no/such/model.gguf")));
    }

    void exportDialogExportsAndMeasures() {
        ui::ExportDialog dialog(analysis_, allocation(*analysis_, 5.0), 5.0);
        const QString folder = tmp_.filePath(QStringLiteral("exported"));
        dialog.setFolder(folder);
        dialog.setLatencySteps(8);
        QSignalSpy exported(&dialog, &ui::ExportDialog::exported);
        dialog.show();
        dialog.start();
        QVERIFY(exported.wait(kHangGuardMs));
        for (const char* f : {"config.json", "model.safetensors", "tokenizer.bin", "latency_report.json"})
            QVERIFY2(QFileInfo::exists(QDir(folder).filePath(QLatin1String(f))), f);
        QVERIFY(dialog.reportText().contains(QStringLiteral("tokens/s")));
        // The export reloads as a model.
        QCOMPARE(model::load_checkpoint(folder.toStdString()).packed.size(), analysis_->matrices.size());
    }

    void cancelledExportLeavesNoFiles() {
        ui::ExportDialog dialog(analysis_, allocation(*analysis_, 5.0), 5.0);
        const QString folder = tmp_.filePath(QStringLiteral("cancelled"));
        dialog.setFolder(folder);
        dialog.setQuantizer(QStringLiteral("gptq"));
        dialog.setLatencySteps(0);
        QSignalSpy cancelled(dialog.job(), &ui::BackgroundJob::cancelled);
        QSignalSpy finished(dialog.job(), &ui::BackgroundJob::finished);
        // Every thread of the pool is held until the cancel has been given, so the export cannot
        // finish first on any machine: its work starts with the token already set.
        QThreadPool* pool = QThreadPool::globalInstance();
        QSemaphore gate;
        const int held = pool->maxThreadCount();
        for (int i = 0; i < held; ++i) pool->start([&gate] { gate.acquire(); });
        dialog.start();
        dialog.job()->cancel();
        gate.release(held);
        QTRY_VERIFY_WITH_TIMEOUT(cancelled.count() + finished.count() > 0, kHangGuardMs);
        QCOMPARE(finished.count(), 0);
        QCOMPARE(cancelled.count(), 1);
        QVERIFY(!QFileInfo::exists(folder));
        QCOMPARE(QDir(tmp_.path()).entryList({QStringLiteral("*.tmp*")}, QDir::Files | QDir::Hidden).size(), 0);
    }

    // A model of another family (Qwen3, from the family fixtures) through the explorer: its analysis
    // opens with the family on screen, and the export dialog writes a packed Qwen3 that reloads.
    void anotherFamilyGoesThroughTheExplorer() {
        const auto folder = std::filesystem::path(SCALEBITS_SOURCE_DIR) / "tests" / "data" / "families" / "qwen3";
        const auto ckpt = model::load_checkpoint(folder);
        model::LlamaModel m(ckpt);
        analysis::AnalysisOptions o;
        o.calib_text = kData / "c4" / "c4-sample.utf8";
        o.samples = 4;
        o.seq_len = 64;
        o.tile_rows = o.tile_cols = o.group = 32;
        const auto file = tmp_.filePath(QStringLiteral("qwen3.sba"));
        auto a = std::make_shared<const analysis::Analysis>(analysis::analyze(ckpt, m, o, file.toStdString()));
        ui::MainWindow window;
        QVERIFY(scalebits::testing::show_analysis(window, a, file));
        QCOMPARE(window.modelDescription(), QStringLiteral("qwen3 (q/k head norms) · 2 layers · hidden 64"));

        const QString out = tmp_.filePath(QStringLiteral("qwen3-export"));
        QVERIFY(scalebits::testing::export_with_dialog(a, allocation(*a, 3.5), 3.5, out, 4));
        const auto packed = model::load_checkpoint(out.toStdString());
        QCOMPARE(packed.config.family, model::Family::Qwen3);
        QCOMPARE(packed.packed.size(), a->matrices.size());
    }

    // For every method the explorer offers: the widths on screen are the CLI's allocation (core's
    // allocate, same layout), "evaluate at this budget" measures that allocation, and the export
    // dialog writes exactly those widths into the packed file.
    void onScreenEvaluatedAndExportedWidthsAgree_data() {
        QTest::addColumn<QString>("method");
        for (const QString& m : ui::AllocationController::methodNames()) QTest::newRow(qPrintable(m)) << m;
    }
    void onScreenEvaluatedAndExportedWidthsAgree() {
        QFETCH(QString, method);
        constexpr double kBudget = 3.6;
        ui::MainWindow window;
        QVERIFY(scalebits::testing::show_analysis(window, analysis_, QString::fromStdString(analysis_->file.string())));
        window.controller()->setBudget(kBudget);
        window.controller()->setMethod(method);
        const auto s = window.controller()->solution();
        QVERIFY(s && s->allocation());
        const auto cli = analysis::allocate(*analysis_, parse_alloc_method(method.toStdString()), Budget::bits_per_weight(kBudget));
        QCOMPARE(s->current->widths, cli.widths);
        QCOMPARE(s->allocation()->widths, cli.widths);
        QCOMPARE(s->allocation()->reordered, cli.reordered);

        QSignalSpy evaluated(&window, &ui::MainWindow::evaluationFinished);
        window.evaluateAtBudget();
        QVERIFY(evaluated.wait(kHangGuardMs));
        QCOMPARE(evaluated.first().at(0).toDouble(), cli.avg_bits);

        const QString folder = tmp_.filePath(QStringLiteral("widths-") + method);
        QVERIFY(scalebits::testing::export_with_dialog(analysis_, s->allocation(), kBudget, folder));
        const auto packed = model::load_checkpoint(folder.toStdString());
        std::vector<std::uint8_t> written;
        for (const auto& m : analysis_->matrices) {
            const auto it = packed.packed.find(m.name);
            const std::int64_t tiles = m.grid_rows() * m.grid_cols();
            if (it == packed.packed.end()) {
                written.insert(written.end(), std::size_t(tiles), std::uint8_t(kKeptBits));  // kept at fp16
                continue;
            }
            const auto& v = it->second.view;
            written.insert(written.end(), v.widths, v.widths + v.grid.tile_count());
        }
        QCOMPARE(written, cli.widths);
    }

    void evaluateAtBudgetAddsAMeasuredPoint() {
        ui::MainWindow window;
        QVERIFY(scalebits::testing::show_analysis(window, analysis_, QString::fromStdString(analysis_->file.string())));
        // The model's family is on screen (status bar and title).
        QCOMPARE(window.modelDescription(), QStringLiteral("llama · 5 layers · hidden 64"));
        QVERIFY(window.windowTitle().contains(QStringLiteral("(llama)")));
        window.controller()->setBudget(5.0);
        QSignalSpy done(&window, &ui::MainWindow::evaluationFinished);
        window.evaluateAtBudget();
        QVERIFY(done.wait(kHangGuardMs));
        const double bits = done.first().at(0).toDouble(), ppl = done.first().at(1).toDouble();
        QVERIFY(bits <= 5.0 && bits > 4.0);
        QVERIFY(ppl > 1 && std::isfinite(ppl));
        QCOMPARE(window.rateQualityPlot()->measurementCount(), 1);
    }
};

QTEST_MAIN(TestBackgroundWork)
#include "tst_background_work.moc"
