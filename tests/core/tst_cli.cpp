// End-to-end checks of scalebits-cli on real models and broken files: exit codes, messages that name
// the file and the problem, generation equal to llama2.c's run.c, perplexity equal to an
// independent implementation.
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

#include "../io/gguf_writer.h"
#include "core/util/blas_core.h"
#include "hang_guard.h"
#include <scalebits/kernels.h>
#include "../io/safetensors_fixture.h"

namespace fs = std::filesystem;
using namespace scalebits::testing;

namespace {

struct Run {
    int code = -1;
    QByteArray out, err;
};

Run cli(const QStringList& args, int timeout_ms = kHangGuardMs) {
    QProcess p;
    p.start(QStringLiteral(SCALEBITS_CLI), args);
    Run r;
    if (!p.waitForFinished(timeout_ms)) {
        p.kill();
        p.waitForFinished(kHangGuardMs);
        r.err = "timed out (hang guard)";
        return r;
    }
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;  // -2: crashed
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

QString shared(const char* rel) { return QStringLiteral(SCALEBITS_SHARED_DATA "/") + QLatin1String(rel); }
QString stories() { return shared("stories260K/stories260K.bin"); }
QString tok512() { return shared("stories260K/tok512.bin"); }
QString smollm2() { return QStringLiteral(SCALEBITS_MODEL_CACHE "/SmolLM2-135M-Instruct.Q4_1.gguf"); }

QByteArray read_all(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

}  // namespace

class TestCli : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    QString path(const char* name) const { return tmp_.filePath(QLatin1String(name)); }

    // A bad file must end with exit code 2 and one message naming the file and the problem.
    void expect_rejected(const QStringList& args, const QString& file, const char* problem) {
        const Run r = cli(args);
        QVERIFY2(r.code == 2, qPrintable(QStringLiteral("exit %1, stderr: %2").arg(r.code).arg(QString::fromUtf8(r.err))));
        QVERIFY2(r.err.contains(QFileInfo(file).fileName().toUtf8()), r.err.constData());
        QVERIFY2(QString::fromUtf8(r.err).contains(QLatin1String(problem), Qt::CaseInsensitive), r.err.constData());
    }

private slots:
    void initTestCase() { QVERIFY(tmp_.isValid()); }

    // Without a GPU (or without CUDA in LibTorch), every command asked for --device cuda ends with exit
    // 2 and one line that says so, never a crash or a silent CPU run.
    void cudaWithoutAGpuIsAClearError_data() {
        QTest::addColumn<QStringList>("args");
        const QStringList m{QStringLiteral("--model"), stories(), QStringLiteral("--tokenizer"), tok512()};
        QTest::newRow("eval") << (QStringList{QStringLiteral("eval")} + m +
                                  QStringList{QStringLiteral("--text"), shared("wikitext-2-raw/wiki.test.raw"),
                                              QStringLiteral("--ctx"), QStringLiteral("64"), QStringLiteral("--max-windows"),
                                              QStringLiteral("1")});
        QTest::newRow("generate") << (QStringList{QStringLiteral("generate")} + m +
                                      QStringList{QStringLiteral("--prompt"), QStringLiteral("Once"), QStringLiteral("--steps"),
                                                  QStringLiteral("4")});
        QTest::newRow("analyze") << (QStringList{QStringLiteral("analyze")} + m +
                                     QStringList{QStringLiteral("--samples"), QStringLiteral("2"), QStringLiteral("--seqlen"),
                                                 QStringLiteral("32"), QStringLiteral("--out"), path("cuda.sba")});
        QTest::newRow("bench-kernels") << QStringList{QStringLiteral("bench-kernels"), QStringLiteral("--shapes"),
                                                      QStringLiteral("256x256"), QStringLiteral("--bits"), QStringLiteral("4"),
                                                      QStringLiteral("--batch"), QStringLiteral("1")};
        QTest::newRow("bench-kernels --verify") << QStringList{QStringLiteral("bench-kernels"), QStringLiteral("--verify")};
    }
    void cudaWithoutAGpuIsAClearError() {
        QFETCH(QStringList, args);
        if (scalebits::kernels::cuda_available()) QSKIP("a CUDA device is present");
        const Run r = cli(args + QStringList{QStringLiteral("--device"), QStringLiteral("cuda")});
        QVERIFY2(r.code == 2, qPrintable(QStringLiteral("exit %1: %2").arg(r.code).arg(QString::fromUtf8(r.err))));
        QVERIFY2(r.err.contains("cuda") && r.err.count('\n') == 1, r.err.constData());
        QVERIFY(!QFileInfo::exists(path("cuda.sba")));
    }

    // Debian 12's OpenBLAS falls back to SSE3 kernels on CPUs newer than it; the CLI then runs again
    // with OPENBLAS_CORETYPE naming the kernels this CPU can run (a setting of the user's is kept).
    void blasKernelsFitTheCpu() {
        const Run r = cli({QStringLiteral("bench-matmul"), QStringLiteral("--m"), QStringLiteral("16"), QStringLiteral("--k"),
                           QStringLiteral("16"), QStringLiteral("--n"), QStringLiteral("16"), QStringLiteral("--repeats"),
                           QStringLiteral("1"), QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        const QString core = QJsonDocument::fromJson(r.out).object().value(QStringLiteral("blas_core")).toString();
        const std::string expected = scalebits::util::blas_core_to_request().value_or(scalebits::util::blas_core_name());
        qInfo("this process: '%s'; the CLI: '%s'", scalebits::util::blas_core_name().c_str(), qPrintable(core));
        QCOMPARE(core, QString::fromStdString(expected));
    }

    void usageErrors() {
        QCOMPARE(cli({}).code, 2);
        QCOMPARE(cli({QStringLiteral("frobnicate")}).code, 2);
        const Run r = cli({QStringLiteral("eval"), QStringLiteral("--model"), stories(), QStringLiteral("--bogus")});
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("--bogus"));
        QCOMPARE(cli({QStringLiteral("--help")}).code, 0);
    }

    // Core says what is wrong with a setting in its own words; the CLI puts the option in front.
    void badSettingsNameTheOption_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("expected");
        const QStringList analyze = QStringList{QStringLiteral("analyze"), QStringLiteral("--model"), stories(),
                                                QStringLiteral("--samples"), QStringLiteral("2"), QStringLiteral("--seqlen"),
                                                QStringLiteral("32"), QStringLiteral("--out"), path("bad.sba")};
        QTest::newRow("group") << (analyze + QStringList{QStringLiteral("--tile"), QStringLiteral("32x32"), QStringLiteral("--group"),
                                                        QStringLiteral("24")})
                               << QStringLiteral("error: --group: the tile width 32 is not a multiple of the group 24\n");
        QTest::newRow("widths") << (analyze + QStringList{QStringLiteral("--bits"), QStringLiteral("3,9")})
                                << QStringLiteral("error: --bits: the width 9 is outside 2..8 bits\n");
        QTest::newRow("ctx") << QStringList{QStringLiteral("eval"), QStringLiteral("--model"), stories(), QStringLiteral("--text"),
                                            QStringLiteral(SCALEBITS_SHARED_DATA "/c4/c4-sample.utf8"), QStringLiteral("--ctx"),
                                            QStringLiteral("1")}
                             << QStringLiteral("error: --ctx: a window needs at least 2 tokens of context\n");
    }
    void badSettingsNameTheOption() {
        QFETCH(QStringList, args);
        QFETCH(QString, expected);
        const Run r = cli(args);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.endsWith(expected.toUtf8()), r.err.constData());
        QCOMPARE(r.err.count('\n'), 1);
        QVERIFY(!QFileInfo::exists(path("bad.sba")));
    }

    // Must show 1 of the engine issue: byte-for-byte what llama2.c's run.c prints at temperature 0
    // (tests/data/llama2c/README.md says how the expected files were made).
    void generateMatchesRunC_data() {
        QTest::addColumn<QString>("prompt");
        QTest::addColumn<QString>("steps");
        QTest::addColumn<QString>("expected");
        QTest::newRow("once upon, 60") << QStringLiteral("Once upon a time") << QStringLiteral("60") << QStringLiteral("once_upon_60.txt");
        QTest::newRow("once upon, 200") << QStringLiteral("Once upon a time") << QStringLiteral("200") << QStringLiteral("once_upon_200.txt");
        QTest::newRow("little dog, 80") << QStringLiteral("The little dog") << QStringLiteral("80") << QStringLiteral("little_dog_80.txt");
    }
    void generateMatchesRunC() {
        QFETCH(QString, prompt);
        QFETCH(QString, steps);
        QFETCH(QString, expected);
        const QByteArray want = read_all(QStringLiteral(SCALEBITS_SOURCE_DIR "/tests/data/llama2c/") + expected);
        QVERIFY(!want.isEmpty());
        const Run r = cli({QStringLiteral("generate"), QStringLiteral("--model"), stories(), QStringLiteral("--tokenizer"),
                           tok512(), QStringLiteral("--prompt"), prompt, QStringLiteral("--steps"), steps,
                           QStringLiteral("--greedy")});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(r.out, want);
    }

    // Must show 2: the keys, and ppl within 0.5% of the independent numpy implementation
    // (tests/reference/llama2c_ppl.py, value recorded in tests/data/llama2c/wiki30000_ctx256.json).
    void evalMatchesReference() {
        const auto ref = QJsonDocument::fromJson(read_all(QStringLiteral(SCALEBITS_SOURCE_DIR "/tests/data/llama2c/wiki30000_ctx256.json"))).object();
        QVERIFY(!ref.isEmpty());
        const Run r = cli({QStringLiteral("eval"), QStringLiteral("--model"), stories(), QStringLiteral("--tokenizer"), tok512(),
                           QStringLiteral("--text"), shared("wikitext-2-raw/wiki.test.raw"), QStringLiteral("--max-bytes"),
                           QStringLiteral("30000"), QStringLiteral("--ctx"), QStringLiteral("256"), QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        const auto j = QJsonDocument::fromJson(r.out).object();
        for (const char* key : {"tokens", "windows", "predicted", "ppl", "tokens_per_s"})
            QVERIFY2(j.contains(QLatin1String(key)), key);
        QCOMPARE(j.value(QStringLiteral("tokens")).toInteger(), ref.value(QStringLiteral("tokens")).toInteger());
        QCOMPARE(j.value(QStringLiteral("windows")).toInteger(), ref.value(QStringLiteral("windows")).toInteger());
        QCOMPARE(j.value(QStringLiteral("predicted")).toInteger(), ref.value(QStringLiteral("predicted")).toInteger());
        const double ppl = j.value(QStringLiteral("ppl")).toDouble(), want = ref.value(QStringLiteral("ppl")).toDouble();
        QVERIFY2(std::abs(ppl - want) / want < 0.005, qPrintable(QStringLiteral("ppl %1 vs reference %2").arg(ppl).arg(want)));
    }

    // The RoPE layout conversion of GGUF llama tensors is right only if the model knows facts.
    void smollm2GeneratesEnglish() {
        if (!QFileInfo::exists(smollm2())) QSKIP("SmolLM2 not downloaded (scripts/fetch-model.sh)");
        const Run r = cli({QStringLiteral("generate"), QStringLiteral("--model"), smollm2(), QStringLiteral("--prompt"),
                           QStringLiteral("The capital of France is"), QStringLiteral("--steps"), QStringLiteral("16"),
                           QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        const QString text = QJsonDocument::fromJson(r.out).object().value(QStringLiteral("text")).toString();
        QVERIFY2(text.contains(QLatin1String("Paris")), qPrintable(text));
    }

    void truncatedGguf() {
        GgufWriter w;
        w.kv_string("general.architecture", "llama");
        w.add_f32("output_norm.weight", {64}, std::vector<float>(64, 1.0f));
        Bytes b = w.bytes();
        b.resize(b.size() - 100);
        write_file(path("truncated.gguf").toStdString(), b);
        expect_rejected({QStringLiteral("info"), QStringLiteral("--model"), path("truncated.gguf")}, path("truncated.gguf"), "");
    }

    void absurdTensorCount() {
        GgufWriter w;
        w.tensor_count_override = ~0ull;
        w.kv_string("general.architecture", "llama");
        write_file(path("count.gguf").toStdString(), w.bytes());
        expect_rejected({QStringLiteral("info"), QStringLiteral("--model"), path("count.gguf")}, path("count.gguf"), "tensor");
    }

    void badSafetensorsHeader() {
        Bytes b;
        put<std::uint64_t>(b, 1ull << 40);  // header length far beyond the file
        put_bytes(b, "{}", 2);
        write_file(path("badheader.safetensors").toStdString(), b);
        expect_rejected({QStringLiteral("info"), QStringLiteral("--model"), path("badheader.safetensors")},
                        path("badheader.safetensors"), "header");
    }

    void overlappingOffsets() {
        // A Hugging Face folder whose config is fine and whose safetensors file is not.
        QDir().mkpath(path("overlap"));
        write_text(path("overlap/config.json").toStdString(),
                   R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":1,)"
                   R"("num_attention_heads":4,"num_key_value_heads":4,"vocab_size":32,"rms_norm_eps":1e-5})");
        const std::string header =
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
        write_file(path("overlap/model.safetensors").toStdString(), safetensors_raw(header, Bytes(12, 0)));
        expect_rejected({QStringLiteral("info"), QStringLiteral("--model"), path("overlap")},
                        path("overlap/model.safetensors"), "overlaps");
    }

    void configMissingField() {
        QDir().mkpath(path("hf"));
        write_text(path("hf/config.json").toStdString(),
                   R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,"num_hidden_layers":1,"num_attention_heads":4,"vocab_size":32})");
        write_file(path("hf/model.safetensors").toStdString(),
                   safetensors_bytes({f32_tensor("model.norm.weight", {64}, std::vector<float>(64, 1.0f))}));
        expect_rejected({QStringLiteral("info"), QStringLiteral("--model"), path("hf")}, path("hf/config.json"),
                        "intermediate_size");
    }

    void pickleRefused() {
        Bytes b = {0x80, 0x02, 0x7d, 0x71, 0x00};
        write_file(path("pytorch_model.bin").toStdString(), b);
        expect_rejected({QStringLiteral("info"), QStringLiteral("--model"), path("pytorch_model.bin")},
                        path("pytorch_model.bin"), "safetensors");
    }

    void missingFile() {
        expect_rejected({QStringLiteral("info"), QStringLiteral("--model"), path("nope.gguf")}, path("nope.gguf"), "");
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
