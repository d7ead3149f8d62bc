// Workspaces: what the explorer shows (analysis, method, budget, pins) saved as a small file, reopened
// to the same widths, and handed to the CLI, whose export from it writes the same model file as the
// explorer's export dialog.
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <memory>

#include "hang_guard.h"
#include "explorer_fixtures.h"

#include "core/workflow/workspace.h"
#include "ui/controllers/background_job.h"
#include "ui/main_window.h"
#include "ui/views/export_dialog.h"

using namespace scalebits;
using scalebits::testing::kHangGuardMs;

namespace {

const std::string kQ1 = "model.layers.1.self_attn.q_proj.weight";
const std::string kDown2 = "model.layers.2.mlp.down_proj.weight";

// First tile of a matrix in a solution's widths.
std::size_t first_tile(const analysis::Analysis& a, const ui::Solution& s, const std::string& name) {
    for (std::size_t i = 0; i < a.matrices.size(); ++i)
        if (a.matrices[i].name == name) return std::size_t(s.tile_offsets.at(i));
    return SIZE_MAX;
}
QByteArray digest(const QString& file) {
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256);
}
}  // namespace

class TestWorkspace : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    QString analysisFile_, workspace_;
    std::shared_ptr<const analysis::Analysis> analysis_;
    std::vector<std::uint8_t> savedWidths_;

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        analysisFile_ = tmp_.filePath(QStringLiteral("stories.sba"));
        analysis_ = scalebits::testing::stories_analysis(analysisFile_.toStdString());
        workspace_ = tmp_.filePath(QStringLiteral("found.sbw"));
    }

    // Method, budget and a pin set in one window, saved, and reopened in another: the same widths.
    void savedWorkspaceReopensToTheSameWidths() {
        {
            ui::MainWindow window;
            auto* c = window.controller();
            QSignalSpy ready(c, &ui::AllocationController::analysisReady);
            window.setAnalysis(analysis_, analysisFile_);
            QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, kHangGuardMs);
            analysis::ProblemOptions pins;
            pins.constraints["down_proj"].pinned_bits = 8;
            pins.constraints["model.layers.0."].min_bits = 5;
            // Single tiles too: one below its matrix's free choice, one overriding the matrix's pin.
            pins.tile_pins[kQ1][1] = 2;
            pins.tile_pins[kDown2][0] = 3;
            c->setConstraints(pins);
            QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 2, kHangGuardMs);
            c->setMethod(QStringLiteral("layer"));
            c->setBudget(5.5);
            QVERIFY(c->solution());
            QCOMPARE(c->solution()->budget_bits, 5.5);  // feasible with the pins
            savedWidths_ = c->solution()->current->widths;
            QCOMPARE(int(savedWidths_.at(first_tile(*analysis_, *c->solution(), kQ1) + 1)), 2);
            QCOMPARE(int(savedWidths_.at(first_tile(*analysis_, *c->solution(), kDown2))), 3);
            QVERIFY(window.saveWorkspace(workspace_));
        }
        // Stored relative to the workspace's folder (the analysis lies beside it).
        QFile f(workspace_);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QVERIFY(f.readAll().contains("\"analysis\": \"stories.sba\""));

        ui::MainWindow window;
        QSignalSpy applied(&window, &ui::MainWindow::workspaceApplied);
        window.openFile(workspace_);
        QVERIFY(applied.wait(kHangGuardMs));
        auto* c = window.controller();
        QCOMPARE(c->method(), QStringLiteral("layer"));
        QCOMPARE(c->budget(), 5.5);
        QCOMPARE(c->constraints().constraints.at("down_proj").pinned_bits, 8);
        QCOMPARE(c->constraints().constraints.at("model.layers.0.").min_bits, 5);
        QCOMPARE(c->constraints().tile_pins.at(kQ1).at(1), 2);
        QCOMPARE(c->constraints().tile_pins.at(kDown2).at(0), 3);
        QVERIFY(c->solution());
        QCOMPARE(c->solution()->current->widths, savedWidths_);
    }

    // The CLI's export from the workspace and the explorer's export of the reopened workspace write
    // the same model file.
    void cliExportFromTheWorkspaceMatchesTheExplorer() {
        ui::MainWindow window;
        QSignalSpy applied(&window, &ui::MainWindow::workspaceApplied);
        window.openFile(workspace_);
        QVERIFY(applied.wait(kHangGuardMs));
        const auto s = window.controller()->solution();
        const QString explorer = tmp_.filePath(QStringLiteral("explorer-export"));
        QVERIFY(scalebits::testing::export_with_dialog(window.controller()->analysis(), s->allocation(), s->budget_bits, explorer));

        const QString cli = tmp_.filePath(QStringLiteral("cli-export"));
        QProcess p;
        p.start(QStringLiteral(SCALEBITS_CLI), {QStringLiteral("export"), QStringLiteral("--workspace"), workspace_,
                                                QStringLiteral("--out"), cli});
        QVERIFY(p.waitForFinished(kHangGuardMs));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const QByteArray a = digest(explorer + QStringLiteral("/model.safetensors"));
        QVERIFY(!a.isEmpty());
        QCOMPARE(digest(cli + QStringLiteral("/model.safetensors")), a);
        QCOMPARE(digest(cli + QStringLiteral("/config.json")), digest(explorer + QStringLiteral("/config.json")));

        // The workspace excludes the options it holds.
        p.start(QStringLiteral(SCALEBITS_CLI), {QStringLiteral("allocate"), QStringLiteral("--workspace"), workspace_,
                                                QStringLiteral("--budget"), QStringLiteral("3")});
        QVERIFY(p.waitForFinished(kHangGuardMs));
        QCOMPARE(p.exitCode(), 2);
        QVERIFY(p.readAllStandardError().contains("--budget cannot be given with --workspace"));
    }

    // A malformed workspace is refused with the file and the field named; nothing is opened.
    void badWorkspaceIsRefused_data() {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("expected");
        const QByteArray head = "{\"format\": \"scalebits-workspace\", \"version\": 1, \"analysis\": \"stories.sba\", ";
        QTest::newRow("method") << head + "\"method\": \"best\", \"budget_bits_per_weight\": 4}" << QStringLiteral("method");
        QTest::newRow("budget") << head + "\"method\": \"layer\", \"budget_bits_per_weight\": -1}"
                                << QStringLiteral("budget_bits_per_weight");
        QTest::newRow("pin width") << head + "\"method\": \"layer\", \"budget_bits_per_weight\": 4, \"constraints\": "
                                             "{\"q_proj\": {\"pinned_bits\": 9}}}"
                                   << QStringLiteral("constraints.q_proj.pinned_bits is 9");
        QTest::newRow("tile pin width") << head + "\"method\": \"layer\", \"budget_bits_per_weight\": 4, \"tile_pins\": "
                                                  "{\"q\": {\"3\": 12}}}"
                                        << QStringLiteral("tile_pins.q.3 is 12");
        QTest::newRow("tile index") << head + "\"method\": \"layer\", \"budget_bits_per_weight\": 4, \"tile_pins\": "
                                              "{\"q\": {\"x\": 4}}}"
                                    << QStringLiteral("'x' is not a tile index");
        QTest::newRow("unknown field") << head + "\"method\": \"layer\", \"budget_bits_per_weight\": 4, \"bugdet\": 3}"
                                       << QStringLiteral("unknown field 'bugdet'");
        QTest::newRow("not a workspace") << QByteArray("{\"analysis\": \"x\"}") << QStringLiteral("not a ScaleBITS workspace");
    }
    void badWorkspaceIsRefused() {
        QFETCH(QByteArray, json);
        QFETCH(QString, expected);
        const QString path = tmp_.filePath(QStringLiteral("bad.sbw"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(json);
        f.close();
        ui::MainWindow window;
        QSignalSpy failed(&window, &ui::MainWindow::fileFailed);
        window.openFile(path);
        QCOMPARE(failed.count(), 1);
        const QString message = failed.first().first().toString();
        QVERIFY2(message.contains(path) && message.contains(expected), qPrintable(message));
        QVERIFY(!window.controller()->analysis());
    }
};

QTEST_MAIN(TestWorkspace)
#include "tst_workspace.moc"
