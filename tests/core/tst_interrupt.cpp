// Ctrl+C in the CLI: SIGINT during an analysis or an export of stories260K, at several moments
// (each the moment a stage's work file appears), stops the command through its cancel token: exit
// status 130, one line on stderr, nothing under the output names. The time from the signal to the
// exit is reported (qInfo), not asserted: how fast belongs in measurements, and the tests only wait
// with a hang guard.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <QtTest>

#include "hang_guard.h"

namespace fs = std::filesystem;
using namespace scalebits::testing;

namespace {

const fs::path kShared = SCALEBITS_SHARED_DATA;
const std::vector<std::string> kStories = {"--model", (kShared / "stories260K/stories260K.bin").string(), "--tokenizer",
                                           (kShared / "stories260K/tok512.bin").string()};

struct Interrupted {
    bool signalled = false;  // the moment came before the command ended
    int status = 0;          // waitpid status
    double seconds_to_exit = 0.0;
    std::string err;
};

std::string read_all(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Runs scalebits-cli with `args` (stdout discarded, stderr to `err_file`) and sends SIGINT as soon
// as `moment` exists.
Interrupted interrupt_when(const std::vector<std::string>& args, const fs::path& moment, const fs::path& err_file) {
    std::vector<std::string> argv = {SCALEBITS_CLI};
    argv.insert(argv.end(), args.begin(), args.end());
    const pid_t pid = ::fork();
    if (pid == 0) {
        std::vector<char*> a;
        for (auto& s : argv) a.push_back(s.data());
        a.push_back(nullptr);
        const int null = ::open("/dev/null", O_WRONLY);
        const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(null, STDOUT_FILENO);
        ::dup2(err, STDERR_FILENO);
        ::execv(a[0], a.data());
        ::_exit(127);
    }
    Interrupted r;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(kHangGuardMs);
    while (true) {
        if (fs::exists(moment)) {
            const auto sent = std::chrono::steady_clock::now();
            ::kill(pid, SIGINT);
            r.signalled = true;
            ::waitpid(pid, &r.status, 0);
            r.seconds_to_exit = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
            break;
        }
        if (::waitpid(pid, &r.status, WNOHANG) == pid) break;  // ended before the moment
        if (std::chrono::steady_clock::now() > give_up) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &r.status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    r.err = read_all(err_file);
    return r;
}

// What every interrupted command must show; `what` names the case in failure messages.
void expect_cancelled(const Interrupted& r, const char* what) {
    QVERIFY2(r.signalled, (std::string(what) + ": the command ended before the moment to interrupt it").c_str());
    QVERIFY2(WIFEXITED(r.status), (std::string(what) + ": not a normal exit (killed by the signal?)").c_str());
    QCOMPARE(WEXITSTATUS(r.status), 130);
    QCOMPARE(std::count(r.err.begin(), r.err.end(), '\n'), 1);
    QVERIFY2(r.err.find("cancelled") != std::string::npos, r.err.c_str());
    qInfo("%s: exit 130 %.3f s after SIGINT", what, r.seconds_to_exit);
}

}  // namespace

class TestInterrupt : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    fs::path dir(const char* name) const { return fs::path(tmp_.path().toStdString()) / name; }

    static std::vector<std::string> analyzeArgs(const fs::path& out, const char* samples) {
        std::vector<std::string> a = {"analyze"};
        a.insert(a.end(), kStories.begin(), kStories.end());
        a.insert(a.end(), {"--calib", (kShared / "c4/c4-sample.utf8").string(), "--samples", samples, "--seqlen", "64",
                           "--tile", "16x32", "--group", "16", "--out", out.string()});
        return a;
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(tmp_.isValid()); }

    // Moments: a forward boundary written, the backward's first and a later layer finished (the
    // backward runs from the top layer down; stories260K has 5).
    void analyzeStopsAndWritesNothing_data() {
        QTest::addColumn<QString>("moment");
        QTest::newRow("forward") << QStringLiteral("a.2");
        QTest::newRow("backward, top layer done") << QStringLiteral("b.4");
        QTest::newRow("backward, layer 2 done") << QStringLiteral("b.2");
    }
    void analyzeStopsAndWritesNothing() {
        QFETCH(QString, moment);
        const fs::path out = dir("interrupted.sba");
        fs::remove_all(out.string() + ".work");
        const auto r = interrupt_when(analyzeArgs(out, "16"), fs::path(out.string() + ".work") / (moment.toStdString() + ".safetensors"),
                                      dir("analyze.err"));
        expect_cancelled(r, qPrintable(QStringLiteral("analyze at ") + moment));
        QVERIFY(!fs::exists(out));
        // Nothing else beside it but the work folder that --resume continues from.
        for (const auto& e : fs::directory_iterator(out.parent_path()))
            QVERIFY2(e.path().filename().string().rfind("interrupted.sba", 0) != 0 ||
                         e.path().filename() == "interrupted.sba.work",
                     e.path().c_str());
    }

    // An export of a finished analysis, interrupted once the first and once a later layer's piece is
    // in the scratch folder: no output folder, no scratch folder.
    void exportStopsAndWritesNothing_data() {
        QTest::addColumn<QString>("piece");
        QTest::newRow("first layer") << QStringLiteral("layer.0");
        QTest::newRow("layer 3") << QStringLiteral("layer.3");
    }
    void exportStopsAndWritesNothing() {
        QFETCH(QString, piece);
        const fs::path analysis = dir("done.sba");
        if (!fs::exists(analysis)) {
            std::string cmd = SCALEBITS_CLI;
            for (const auto& s : analyzeArgs(analysis, "8")) cmd += " '" + s + "'";  // only feeds the export
            QCOMPARE(std::system((cmd + " >/dev/null").c_str()), 0);
        }
        const fs::path out = dir("export");
        std::vector<std::string> args = {"export"};
        args.insert(args.end(), kStories.begin(), kStories.end());
        args.insert(args.end(), {"--analysis", analysis.string(), "--budget", "6", "--quantizer", "gptq", "--out", out.string()});
        const fs::path scratch = out.parent_path() / ".export.export-work";
        const auto r = interrupt_when(args, scratch / (piece.toStdString() + ".safetensors"), dir("export.err"));
        expect_cancelled(r, qPrintable(QStringLiteral("export at ") + piece));
        QVERIFY(!fs::exists(out));
        QVERIFY(!fs::exists(scratch));
    }
};

QTEST_GUILESS_MAIN(TestInterrupt)
#include "tst_interrupt.moc"
