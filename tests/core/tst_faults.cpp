// Faults (issue 7): a full disk while exporting or saving an analysis leaves the earlier file intact
// and no temporary file behind; a kill during export leaves the old complete file or the new
// complete one under the final name; cancelling an analysis or an export stops at its next
// checkpoint (counted in units of work, not timed) and writes nothing; running out of memory is a one-line error, not a crash or a backtrace. The full disk is a
// file-size limit on the CLI process (RLIMIT_FSIZE with SIGXFSZ ignored: writes fail with EFBIG,
// as they fail with ENOSPC on a full disk).
#include <signal.h>
#include <sys/resource.h>

#include <c10/util/Exception.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "core/analysis/allocation.h"
#include "core/analysis/analysis_file.h"
#include "core/analysis/analyze.h"
#include "core/export/export.h"
#include "core/util/exception_text.h"
#include "hang_guard.h"
#include "tst_calib_fixture.h"

// Qt after LibTorch: Qt's `slots` macro would break torch headers that name a method slots().
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QProcessEnvironment>
#include <QTemporaryDir>
#include <QtTest>

using namespace scalebits;
using namespace scalebits::testing;

namespace {
struct Run {
    int code = -1;
    QByteArray err;
};

// rlimit_fsize / rlimit_as: 0 = no limit. `env`: the child's environment when not empty.
Run cli(const QStringList& args, rlim_t fsize = 0, rlim_t as = 0, const QProcessEnvironment& env = {}) {
    QProcess p;
    if (!env.isEmpty()) p.setProcessEnvironment(env);
    p.setChildProcessModifier([fsize, as] {
        if (fsize) {
            ::signal(SIGXFSZ, SIG_IGN);
            const rlimit rl{fsize, fsize};
            ::setrlimit(RLIMIT_FSIZE, &rl);
        }
        if (as) {
            const rlimit rl{as, as};
            ::setrlimit(RLIMIT_AS, &rl);
        }
    });
    p.start(QStringLiteral(SCALEBITS_CLI), args);
    Run r;
    if (!p.waitForFinished(kHangGuardMs)) return r;
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
    r.err = p.readAllStandardError();
    return r;
}

QByteArray digest(const QString& file) {
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256);
}

QStringList files(const QString& dir) {
    QStringList names = QDir(dir).entryList(QDir::Files | QDir::Hidden);
    names.sort();
    return names;
}

QString shared(const char* rel) { return QStringLiteral(SCALEBITS_SHARED_DATA "/") + QLatin1String(rel); }
}  // namespace

class TestFaults : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    QString analysis_;
    QStringList model_ = {QStringLiteral("--model"), shared("stories260K/stories260K.bin"), QStringLiteral("--tokenizer"),
                          shared("stories260K/tok512.bin")};

    QStringList analyzeArgs(const QString& out, const char* samples = "8") const {
        return QStringList{QStringLiteral("analyze")} + model_ +
               QStringList{QStringLiteral("--samples"), QLatin1String(samples), QStringLiteral("--seqlen"), QStringLiteral("64"),
                           QStringLiteral("--tile"), QStringLiteral("32x32"), QStringLiteral("--group"), QStringLiteral("16"),
                           QStringLiteral("--out"), out};
    }
    QStringList exportArgs(const QString& out, const char* budget, const char* quantizer = "rtn") const {
        return QStringList{QStringLiteral("export")} + model_ +
               QStringList{QStringLiteral("--analysis"), analysis_, QStringLiteral("--budget"), QLatin1String(budget),
                           QStringLiteral("--quantizer"), QLatin1String(quantizer), QStringLiteral("--out"), out};
    }

    // Starts a 6-bit GPTQ export into `out` and kills it (SIGKILL) after `delay_ms`; false if the
    // CLI did not start.
    bool killExportAfter(const QString& out, int delay_ms) {
        QProcess p;
        p.start(QStringLiteral(SCALEBITS_CLI), exportArgs(out, "6", "gptq"));
        if (!p.waitForStarted(kHangGuardMs)) return false;
        QTest::qWait(delay_ms);
        p.kill();
        p.waitForFinished(kHangGuardMs);
        return true;
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        analysis_ = tmp_.filePath(QStringLiteral("s.sba"));
        const Run r = cli(analyzeArgs(analysis_));
        QVERIFY2(r.code == 0, r.err.constData());
    }

    // The disk fills (a file size limit) while the export writes a layer's piece into its scratch
    // folder, or while it writes model.safetensors: the error names that file, the earlier export is
    // untouched and the scratch folder is gone.
    void fullDiskDuringExportKeepsTheEarlierExport_data() {
        QTest::addColumn<int>("limit");
        QTest::addColumn<QString>("file");
        QTest::newRow("scratch piece") << 16 * 1024 << QStringLiteral(".export.export-work/");
        QTest::newRow("model file") << 128 * 1024 << QStringLiteral("export/model.safetensors");
    }
    void fullDiskDuringExportKeepsTheEarlierExport() {
        QFETCH(int, limit);
        QFETCH(QString, file);
        const QString out = tmp_.filePath(QStringLiteral("export"));
        Run r = cli(exportArgs(out, "4.5"));
        QVERIFY2(r.code == 0, r.err.constData());
        const QStringList before = files(out);
        const QByteArray model = digest(out + QStringLiteral("/model.safetensors"));
        const QByteArray config = digest(out + QStringLiteral("/config.json"));
        r = cli(exportArgs(out, "6"), limit);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains(file.toUtf8()) && r.err.contains("cannot write"), r.err.constData());
        QCOMPARE(files(out), before);  // no temporary file left
        QVERIFY(!QFileInfo::exists(tmp_.filePath(QStringLiteral(".export.export-work"))));
        QCOMPARE(digest(out + QStringLiteral("/model.safetensors")), model);
        QCOMPARE(digest(out + QStringLiteral("/config.json")), config);
        // And it still loads.
        QCOMPARE(cli({QStringLiteral("info"), QStringLiteral("--model"), out}).code, 0);
    }

    void fullDiskWhileSavingAnAnalysisKeepsTheEarlierOne() {
        const QByteArray before = digest(analysis_);
        const QStringList listing = files(tmp_.path());
        const Run r = cli(analyzeArgs(analysis_, "4"), 16 * 1024);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("s.sba"), r.err.constData());
        QCOMPARE(digest(analysis_), before);
        QCOMPARE(files(tmp_.path()), listing);
    }

    // Kill -9 at many moments of an export over an earlier one: the final name always holds a
    // complete export (the old or the new), never a half file.
    void killDuringExportLeavesACompleteFile() {
        const QString out = tmp_.filePath(QStringLiteral("killed"));
        QCOMPARE(cli(exportArgs(out, "4.5")).code, 0);
        const QByteArray old = digest(out + QStringLiteral("/model.safetensors"));
        int replaced = 0;
        for (int delay_ms : {50, 150, 300, 500, 800, 1200, 2000}) {
            QVERIFY(killExportAfter(out, delay_ms));
            const QByteArray now = digest(out + QStringLiteral("/model.safetensors"));
            if (now != old) ++replaced;
            const Run info = cli({QStringLiteral("info"), QStringLiteral("--model"), out});
            QVERIFY2(info.code == 0, info.err.constData());
        }
        qInfo() << "exports that completed before the kill:" << replaced << "of 7";
    }

    // A first export (no earlier one to keep) killed at any moment: model.safetensors is either
    // absent or complete (it loads, checksums included), never a partial file under that name.
    void killDuringAFirstExportLeavesNothingOrAWholeModel() {
        int complete = 0;
        for (int delay_ms : {50, 300, 800, 2000}) {
            const QString out = tmp_.filePath(QStringLiteral("first-%1").arg(delay_ms));
            QVERIFY(killExportAfter(out, delay_ms));
            const QString model = out + QStringLiteral("/model.safetensors");
            if (!QFileInfo::exists(model)) continue;
            const Run info = cli({QStringLiteral("info"), QStringLiteral("--model"), out});
            QVERIFY2(info.code == 0, info.err.constData());
            ++complete;
        }
        qInfo() << "first exports that completed before the kill:" << complete << "of 4";
    }

    // A cancel from another thread while the analysis calibrates. The unit of work there is one
    // sequence's forward and backward pass, counted by the model itself (not by progress reports):
    // at most one pass starts after the cancel, the one that had already passed its checkpoint.
    // Nothing is written and the model is left as it was. The milliseconds from the cancel to the
    // stop are reported only: they depend on the machine's load, the pass count does not.
    void cancelledAnalysisStopsAtTheNextSequenceAndWritesNothing() {
        using clock = std::chrono::steady_clock;
        const auto out = std::filesystem::path(tmp_.filePath(QStringLiteral("cancelled.sba")).toStdString());
        CancelToken token;
        Progress progress;
        progress.token = &token;
        analysis::AnalysisOptions o;
        o.calib_text = kC4;
        o.samples = 400;  // far more than the canceller waits for; all of them run if the cancel is ignored
        o.seq_len = 64;
        auto model = stories_model();
        std::atomic<bool> over{false}, cancel_sent{false};
        std::atomic<std::uint64_t> passes_at_cancel{0};
        clock::time_point cancelled_at;
        std::thread canceller([&] {
            while (!over && model->forward_passes() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            if (over) return;
            cancelled_at = clock::now();
            token.cancel();
            // Read after the cancel: a pass counted later started from a checkpoint that had already
            // polled the token, and the next checkpoint throws.
            passes_at_cancel = model->forward_passes();
            cancel_sent = true;
        });
        bool threw = false;
        std::string other_error;
        try {
            analysis::analyze(stories_checkpoint(), *model, o, out, progress);
        } catch (const CancelledError&) {
            threw = true;
        } catch (const std::exception& e) {
            other_error = e.what();
        }
        const auto stopped = clock::now();
        over = true;
        canceller.join();
        QVERIFY2(other_error.empty(), other_error.c_str());
        QVERIFY2(cancel_sent, "the analysis ended before three calibration passes had run");
        const std::uint64_t after = model->forward_passes() - passes_at_cancel;
        qInfo() << "analysis: cancelled after" << passes_at_cancel.load() << "passes; passes started after the cancel:"
                << after << "; stopped" << std::chrono::duration<double, std::milli>(stopped - cancelled_at).count()
                << "ms after it (reported, not asserted)";
        QVERIFY2(threw, "the analysis did not stop on cancel");
        QVERIFY2(after <= 1, qPrintable(QStringLiteral("%1 calibration passes ran after the cancel").arg(after)));
        QVERIFY(!std::filesystem::exists(out));
        // The model's weights are left as they were (no gradients, no observers).
        QVERIFY(!model->layers()[0].q.weight.requires_grad());
    }

    // A cancel in every stage of an analysis, requested from inside that stage's first progress
    // report so the moment is the same on every machine: the next checkpoint throws, no progress is
    // reported after the cancel, at most the one calibration pass already under way runs, and no
    // file (not even a temporary one) is left.
    void cancelInEachAnalysisStageStopsAtTheNextCheckpoint_data() {
        QTest::addColumn<QString>("stage");
        for (const char* stage : {"sensitivity", "cost tables (original layout)", "cost tables (reordered layout)", "writing"})
            QTest::newRow(stage) << QString::fromLatin1(stage);
    }
    void cancelInEachAnalysisStageStopsAtTheNextCheckpoint() {
        QFETCH(QString, stage);
        const std::string wanted = stage.toStdString();
        static int run = 0;
        const QString dir = tmp_.filePath(QStringLiteral("stage-%1").arg(++run));
        QVERIFY(QDir().mkpath(dir));
        const auto out = std::filesystem::path(dir.toStdString()) / "a.sba";
        CancelToken token;
        Progress progress;
        progress.token = &token;
        auto model = stories_model();
        bool cancelled = false;
        int reports_after = 0;
        std::uint64_t passes_at_cancel = 0;
        progress.report = [&](double, double, const std::string& s) {
            if (cancelled) {
                ++reports_after;
            } else if (s == wanted) {
                token.cancel();
                cancelled = true;
                passes_at_cancel = model->forward_passes();
            }
        };
        analysis::AnalysisOptions o;
        o.calib_text = kC4;
        o.samples = 8;
        o.seq_len = 64;
        bool threw = false;
        try {
            analysis::analyze(stories_checkpoint(), *model, o, out, progress);
        } catch (const CancelledError&) {
            threw = true;
        }
        QVERIFY2(cancelled, "the stage never reported progress");
        QVERIFY2(threw, "the analysis did not stop on cancel");
        QCOMPARE(reports_after, 0);
        const std::uint64_t after = model->forward_passes() - passes_at_cancel;
        QVERIFY2(after <= 1, qPrintable(QStringLiteral("%1 calibration passes ran after the cancel").arg(after)));
        QCOMPARE(files(dir), QStringList{});
    }

    // Export checks its token between matrices, inside GPTQ between column blocks, and between 64 MiB
    // pieces of the file. A whole 6-bit GPTQ export first, for the longest gap between progress
    // reports (where a cancel would wait; reported only, it is a time). Then a cancel from inside the
    // progress report that reaches half of the matrices (the same moment on every machine): the
    // export throws at its next checkpoint, reports nothing more and leaves no folder.
    void cancelledExportStopsAtTheNextCheckpointAndPublishesNothing() {
        using clock = std::chrono::steady_clock;
        const analysis::Analysis a = analysis::load_analysis(analysis_.toStdString());
        const analysis::Allocation alloc = analysis::allocate(a, AllocMethod::ScaleBits, Budget::bits_per_weight(6));

        std::vector<clock::time_point> reports;
        Progress timed;
        timed.report = [&](double, double, const std::string&) { reports.push_back(clock::now()); };
        const auto whole = std::filesystem::path(tmp_.filePath(QStringLiteral("timed-export")).toStdString());
        const auto start = clock::now();
        exporting::export_model(stories_checkpoint(), a, alloc, analysis::Quantizer::Gptq, whole, {}, timed);
        reports.push_back(clock::now());
        double longest_ms = std::chrono::duration<double, std::milli>(reports.front() - start).count();
        for (std::size_t i = 1; i < reports.size(); ++i)
            longest_ms = std::max(longest_ms, std::chrono::duration<double, std::milli>(reports[i] - reports[i - 1]).count());
        qInfo() << "export:" << reports.size() << "progress reports, longest gap" << longest_ms << "ms (reported, not asserted)";

        const auto out = std::filesystem::path(tmp_.filePath(QStringLiteral("cancelled-export")).toStdString());
        CancelToken token;
        Progress progress;
        progress.token = &token;
        bool cancelled = false;
        int reports_after = 0;
        progress.report = [&](double done, double total, const std::string& stage) {
            if (cancelled) {
                ++reports_after;
            } else if (stage.rfind("quantizing", 0) == 0 && total > 0 && done >= total / 2) {
                token.cancel();
                cancelled = true;
            }
        };
        bool threw = false;
        std::string other_error;
        try {
            exporting::export_model(stories_checkpoint(), a, alloc, analysis::Quantizer::Gptq, out, {}, progress);
        } catch (const CancelledError&) {
            threw = true;
        } catch (const std::exception& e) {
            other_error = e.what();
        }
        QVERIFY2(other_error.empty(), other_error.c_str());
        QVERIFY2(cancelled, "the export never reported half of its matrices");
        QVERIFY2(threw, "the export did not stop on cancel");
        QCOMPARE(reports_after, 0);
        QVERIFY(!std::filesystem::exists(out));
    }

    // LibTorch's allocation failures, as they reach the CLI and the explorer: one line, the size
    // when LibTorch gives it in bytes, no C++ backtrace. (A GPU cannot be filled here.)
    void allocationFailuresReadAsOutOfMemory() {
        const c10::SourceLocation where{__func__, __FILE__, static_cast<std::uint32_t>(__LINE__)};
        const ExceptionText gpu = describe_exception(
            c10::OutOfMemoryError(where, "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.10 GiB total capacity)"));
        QVERIFY(gpu.out_of_memory);
        QVERIFY2(gpu.message.rfind("out of GPU memory; use fewer calibration samples", 0) == 0, gpu.message.c_str());
        const ExceptionText gpu_text = describe_exception(std::runtime_error("CUDA out of memory. Tried to allocate 20.00 MiB"));
        QVERIFY2(gpu_text.out_of_memory && gpu_text.message.rfind("out of GPU memory", 0) == 0, gpu_text.message.c_str());
        const ExceptionText cpu = describe_exception(
            c10::Error(where, "DefaultCPUAllocator: can't allocate memory: you tried to allocate 1073741824 bytes. Error code 12"));
        QVERIFY(cpu.out_of_memory);
        QVERIFY2(cpu.message.rfind("out of memory (an allocation of 1024 MiB failed)", 0) == 0, cpu.message.c_str());
        QVERIFY(cpu.message.find('\n') == std::string::npos && cpu.message.find("Exception raised") == std::string::npos);
        QVERIFY(!describe_exception(std::runtime_error("bad header")).out_of_memory);
    }

    void outOfMemoryIsAClearError() {
        const QStringList args = analyzeArgs(tmp_.filePath(QStringLiteral("oom.sba")), "200000");
#if defined(__SANITIZE_ADDRESS__)
        // AddressSanitizer reserves terabytes of address space for its shadow memory, so the CLI
        // cannot start under an address-space limit. Its per-allocation limit stands in for the
        // machine that cannot give the calibration batch (97 MiB) at once; malloc then returns null
        // as the kernel's would.
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("ASAN_OPTIONS"),
                   env.value(QStringLiteral("ASAN_OPTIONS")) + QStringLiteral(":allocator_may_return_null=1:max_allocation_size_mb=64"));
        Run r = cli(args, 0, 0, env);
        // The sanitizer's own "failed to allocate" warning is not the program's output.
        QByteArray own;
        for (const QByteArray& line : r.err.split('\n'))
            if (!line.isEmpty() && !line.startsWith("==")) own += line + '\n';
        r.err = own;
#else
        const Run r = cli(args, 0, rlim_t{1500} << 20);
#endif
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("out of memory") && !r.err.contains("frame #"), r.err.constData());
        QCOMPARE(r.err.count('\n'), 1);
    }
};

QTEST_GUILESS_MAIN(TestFaults)
#include "tst_faults.moc"
