// The analysis workflow through scalebits-cli on stories260K: analyze -> inspect -> allocate ->
// quantize-eval, and the analysis file's checks (wrong model, corrupt file).
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "hang_guard.h"

namespace {

struct Run {
    int code = -1;
    QByteArray out, err;
};

Run cli(const QStringList& args, const QString& program = QStringLiteral(SCALEBITS_CLI)) {
    QProcess p;
    p.start(program, args);
    Run r;
    if (!p.waitForFinished(scalebits::testing::kHangGuardMs)) {
        p.kill();
        p.waitForFinished(scalebits::testing::kHangGuardMs);
        return r;
    }
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

QString shared(const char* rel) { return QStringLiteral(SCALEBITS_SHARED_DATA "/") + QLatin1String(rel); }

QJsonObject json_of(const Run& r) { return QJsonDocument::fromJson(r.out).object(); }

}  // namespace

class TestAnalysisCli : public QObject {
    Q_OBJECT

    QTemporaryDir tmp_;
    QString analysis_;
    QStringList model_ = {QStringLiteral("--model"), shared("stories260K/stories260K.bin"), QStringLiteral("--tokenizer"),
                          shared("stories260K/tok512.bin")};

private slots:
    void analyze() {
        QVERIFY(tmp_.isValid());
        analysis_ = tmp_.filePath(QStringLiteral("stories.analysis"));
        const Run r = cli(QStringList{QStringLiteral("analyze")} + model_ +
                          QStringList{QStringLiteral("--calib"), shared("c4/c4-sample.utf8"), QStringLiteral("--samples"),
                                      QStringLiteral("8"), QStringLiteral("--seqlen"), QStringLiteral("64"),
                                      QStringLiteral("--tile"), QStringLiteral("32x32"), QStringLiteral("--group"),
                                      QStringLiteral("16"), QStringLiteral("--bits"), QStringLiteral("2,3,4,8"),
                                      QStringLiteral("--out"), analysis_, QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        const auto j = json_of(r);
        QCOMPARE(j.value(QStringLiteral("matrices")).toInt(), 35 + 1);  // 5 layers of 7, and the (tied) embedding
        QVERIFY(QFileInfo::exists(analysis_));
        // No temporary file is left beside the result, nor the streamed analysis's work folder.
        QCOMPARE(QDir(tmp_.path()).entryList(QDir::Files | QDir::Hidden).size(), 1);
        QVERIFY(!QFileInfo::exists(analysis_ + QStringLiteral(".work")));
        QVERIFY(j.value(QStringLiteral("streamed")).toBool());
        QVERIFY(j.value(QStringLiteral("peak_rss_mb")).toDouble() > 0);
        QVERIFY(j.value(QStringLiteral("scratch_bytes")).toDouble() > 0);
    }

    // make-synthetic writes a Hugging Face folder any command opens; a streamed analysis of it under
    // a limit too small for its activations puts them in the work folder and still succeeds.
    void syntheticModelAnalyzesWithActivationsOnDisk() {
        const QString model = tmp_.filePath(QStringLiteral("synthetic"));
        const Run made = cli({QStringLiteral("make-synthetic"), QStringLiteral("--out"), model, QStringLiteral("--hidden"),
                              QStringLiteral("64"), QStringLiteral("--mlp"), QStringLiteral("160"), QStringLiteral("--layers"),
                              QStringLiteral("3"), QStringLiteral("--heads"), QStringLiteral("4"), QStringLiteral("--kv-heads"),
                              QStringLiteral("2"), QStringLiteral("--vocab"), QStringLiteral("512"), QStringLiteral("--json")});
        QVERIFY2(made.code == 0, made.err.constData());
        QCOMPARE(json_of(made).value(QStringLiteral("parameters")).toInteger(),
                 2 * 512 * 64 + 64 + 3 * (2 * 64 + 64 * 64 * 2 + 2 * 64 * 32 + 3 * 64 * 160));
        QVERIFY(QFileInfo::exists(model + QStringLiteral("/config.json")));
        const QStringList common = {QStringLiteral("analyze"), QStringLiteral("--model"), model, QStringLiteral("--tokenizer"),
                                    shared("stories260K/tok512.bin"), QStringLiteral("--calib"), shared("c4/c4-sample.utf8"),
                                    QStringLiteral("--samples"), QStringLiteral("4"), QStringLiteral("--seqlen"),
                                    QStringLiteral("32"), QStringLiteral("--tile"), QStringLiteral("32x32"), QStringLiteral("--json")};
        const Run probe = cli(common + QStringList{QStringLiteral("--out"), tmp_.filePath(QStringLiteral("probe.sba"))});
        QVERIFY2(probe.code == 0, probe.err.constData());
        const auto pj = json_of(probe);
        QVERIFY(!pj.value(QStringLiteral("activations_on_disk")).toBool());
        const double limit_mb = pj.value(QStringLiteral("layer_working_set_mb")).toDouble() +
                                pj.value(QStringLiteral("activation_mb")).toDouble() / 2;
        const Run r = cli(common + QStringList{QStringLiteral("--out"), tmp_.filePath(QStringLiteral("disk.sba")),
                                               QStringLiteral("--max-memory"),
                                               QString::number(static_cast<qint64>(limit_mb * 1024 * 1024))});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY(json_of(r).value(QStringLiteral("activations_on_disk")).toBool());
        const Run bad = cli(common + QStringList{QStringLiteral("--out"), tmp_.filePath(QStringLiteral("bad.sba")),
                                                 QStringLiteral("--max-memory"), QStringLiteral("lots")});
        QCOMPARE(bad.code, 2);
        QVERIFY2(bad.err.contains("--max-memory"), bad.err.constData());
    }

    void inspect() {
        const Run r = cli({QStringLiteral("inspect"), analysis_, QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        const auto layers = json_of(r).value(QStringLiteral("layers")).toArray();
        QCOMPARE(layers.size(), 35 + 1);
        int raised = 0;
        for (const auto& v : layers) {
            const auto o = v.toObject();
            for (const char* key : {"name", "shape", "tiles", "top10_share_before", "top10_share_after", "factored_corr"})
                QVERIFY2(o.contains(QLatin1String(key)), key);
            const double before = o.value(QStringLiteral("top10_share_before")).toDouble();
            const double after = o.value(QStringLiteral("top10_share_after")).toDouble();
            QVERIFY(before > 0 && before <= 1 && after > 0 && after <= 1);
            if (after > before) ++raised;
        }
        // Reordering gathers sensitivity into fewer tiles for most matrices.
        QVERIFY2(raised > 35 / 2, qPrintable(QString::number(raised)));
    }

    void allocateRespectsBudget_data() {
        QTest::addColumn<QString>("method");
        for (const char* m : {"scalebits", "tile-noreorder", "layer", "uniform", "uniform-mix", "group"})
            QTest::newRow(m) << QString::fromLatin1(m);
    }
    void allocateRespectsBudget() {
        QFETCH(QString, method);
        // 32x32 tiles with groups of 16 carry about 1.2 bits per weight of scales, zeros and headers.
        for (const char* budget : {"3.5", "4", "5"}) {
            const Run r = cli({QStringLiteral("allocate"), QStringLiteral("--analysis"), analysis_, QStringLiteral("--budget"),
                               QLatin1String(budget), QStringLiteral("--method"), method, QStringLiteral("--json")});
            QVERIFY2(r.code == 0, r.err.constData());
            const auto j = json_of(r);
            for (const char* key : {"avg_bits", "bytes", "predicted_loss", "histogram", "solve_us"})
                QVERIFY2(j.contains(QLatin1String(key)), key);
            QVERIFY(j.value(QStringLiteral("avg_bits")).toDouble() <= QByteArray(budget).toDouble() + 1e-9);
        }
    }

    // Pins and width limits by kind, layer prefix or name.
    void constraintsHold() {
        const Run r = cli({QStringLiteral("allocate"), QStringLiteral("--analysis"), analysis_, QStringLiteral("--budget"),
                           QStringLiteral("5.5"), QStringLiteral("--pin"), QStringLiteral("down_proj=8"),
                           QStringLiteral("--max-bits"), QStringLiteral("q_proj=3"), QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        const auto h = json_of(r).value(QStringLiteral("histogram")).toObject();
        const auto down = h.value(QStringLiteral("down_proj")).toObject();
        for (const char* b : {"2", "3", "4"}) QCOMPARE(down.value(QLatin1String(b)).toInteger(), 0);
        QVERIFY(down.value(QStringLiteral("8")).toInteger() > 0);
        const auto q = h.value(QStringLiteral("q_proj")).toObject();
        QCOMPARE(q.value(QStringLiteral("4")).toInteger() + q.value(QStringLiteral("8")).toInteger(), 0);
        QCOMPARE(cli({QStringLiteral("allocate"), QStringLiteral("--analysis"), analysis_, QStringLiteral("--budget"),
                      QStringLiteral("4.5"), QStringLiteral("--pin"), QStringLiteral("down_proj")}).code, 2);
    }

    void scalebitsPredictsLessLossThanLayerwise() {
        auto loss = [&](const char* method) {
            const Run r = cli({QStringLiteral("allocate"), QStringLiteral("--analysis"), analysis_, QStringLiteral("--budget"),
                               QStringLiteral("4"), QStringLiteral("--method"), QLatin1String(method), QStringLiteral("--json")});
            return json_of(r).value(QStringLiteral("predicted_loss")).toDouble();
        };
        QVERIFY(loss("scalebits") <= loss("layer"));
        QVERIFY(loss("scalebits") <= loss("uniform"));
    }

    void quantizeEval() {
        auto ppl = [&](const char* bits, const char* quantizer) {
            const Run r = cli(QStringList{QStringLiteral("quantize-eval")} + model_ +
                              QStringList{QStringLiteral("--analysis"), analysis_, QStringLiteral("--uniform"),
                                          QLatin1String(bits), QStringLiteral("--quantizer"), QLatin1String(quantizer),
                                          QStringLiteral("--text"), shared("wikitext-2-raw/wiki.test.raw"),
                                          QStringLiteral("--max-bytes"), QStringLiteral("20000"), QStringLiteral("--ctx"),
                                          QStringLiteral("128"), QStringLiteral("--json")});
            if (r.code != 0) qWarning() << r.err;
            return json_of(r).value(QStringLiteral("ppl")).toDouble();
        };
        const double p8 = ppl("8", "rtn"), p2 = ppl("2", "rtn"), g2 = ppl("2", "gptq");
        QVERIFY(p8 > 1 && std::isfinite(p8));
        QVERIFY2(p2 > p8, qPrintable(QStringLiteral("%1 %2").arg(p2).arg(p8)));
        QVERIFY(g2 > 1 && std::isfinite(g2));
    }

    // One row per method and budget with ppl and KL; an infeasible budget is a row with its reason.
    void sweep() {
        const Run r = cli(QStringList{QStringLiteral("sweep")} + model_ +
                          QStringList{QStringLiteral("--analysis"), analysis_, QStringLiteral("--budgets"),
                                      QStringLiteral("3,4.5"), QStringLiteral("--methods"),
                                      QStringLiteral("scalebits,layer,group"), QStringLiteral("--quantizer"),
                                      QStringLiteral("rtn,gptq"), QStringLiteral("--text"),
                                      shared("wikitext-2-raw/wiki.test.raw"), QStringLiteral("--max-bytes"),
                                      QStringLiteral("20000"), QStringLiteral("--ctx"), QStringLiteral("128"),
                                      QStringLiteral("--max-windows"), QStringLiteral("4"), QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        const auto j = json_of(r);
        QCOMPARE(j.value(QStringLiteral("windows")).toInt(), 4);
        const double fp = j.value(QStringLiteral("fp_ppl")).toDouble();
        QVERIFY(fp > 1);
        const auto rows = j.value(QStringLiteral("rows")).toArray();
        QCOMPARE(rows.size(), 2 * 3 * 2);
        for (const auto& v : rows) {
            const auto o = v.toObject();
            if (o.value(QStringLiteral("budget")).toDouble() == 3.0) {
                QVERIFY2(o.value(QStringLiteral("error")).toString().contains(QStringLiteral("below the minimum")),
                         qPrintable(o.value(QStringLiteral("error")).toString()));
                continue;
            }
            QVERIFY(o.value(QStringLiteral("avg_bits")).toDouble() <= 4.5);
            QVERIFY(o.value(QStringLiteral("ppl")).toDouble() > fp * 0.9);
            const double kl = o.value(QStringLiteral("kl")).toDouble();
            QVERIFY(kl > 0 && std::isfinite(kl));
        }
    }

    // Budgets given as file sizes: the row's model file fits the size and comes within two tiles'
    // worth of it (one sweep, to keep the suite short; a byte budget as a file size limit is also
    // tested by exporting, core_tst_export).
    void sweepAtFileSizes() {
        Run r = cli({QStringLiteral("allocate"), QStringLiteral("--analysis"), analysis_, QStringLiteral("--budget"),
                     QStringLiteral("5"), QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        const qint64 size = json_of(r).value(QStringLiteral("bytes")).toInteger();
        QVERIFY(size > 10000);
        const QString kb = QString::number(size / 1000) + QStringLiteral("kB");
        for (const QString& scope : {QStringLiteral("all")}) {
            r = cli(QStringList{QStringLiteral("sweep")} + model_ +
                    QStringList{QStringLiteral("--analysis"), analysis_, QStringLiteral("--budgets"), kb,
                                QStringLiteral("--scope"), scope, QStringLiteral("--methods"), QStringLiteral("scalebits"),
                                QStringLiteral("--text"), shared("wikitext-2-raw/wiki.test.raw"),
                                QStringLiteral("--max-bytes"), QStringLiteral("20000"), QStringLiteral("--ctx"),
                                QStringLiteral("4096"), QStringLiteral("--max-windows"), QStringLiteral("2"),
                                QStringLiteral("--json")});
            QVERIFY2(r.code == 0, r.err.constData());
            // A window longer than the model's context (512) is cut to it, as in an evaluation.
            QCOMPARE(json_of(r).value(QStringLiteral("ctx")).toInt(), 512);
            QCOMPARE(json_of(r).value(QStringLiteral("windows")).toInt(), 2);
            const auto rows = json_of(r).value(QStringLiteral("rows")).toArray();
            QCOMPARE(rows.size(), 1);
            const auto o = rows[0].toObject();
            QVERIFY2(!o.contains(QStringLiteral("error")), qPrintable(o.value(QStringLiteral("error")).toString()));
            QCOMPARE(o.value(QStringLiteral("budget_unit")).toString(), QStringLiteral("bytes"));
            QCOMPARE(o.value(QStringLiteral("budget")).toDouble(), double(size / 1000 * 1000));
            const qint64 bytes = o.value(QStringLiteral("bytes")).toInteger();
            QVERIFY2(bytes <= size / 1000 * 1000 && bytes > size / 1000 * 1000 - 2 * 32 * 32,
                     qPrintable(QStringLiteral("%1: %2 bytes").arg(scope).arg(bytes)));
            QVERIFY(o.value(QStringLiteral("ppl")).toDouble() > 1);
        }
        r = cli(QStringList{QStringLiteral("sweep")} + model_ +
                QStringList{QStringLiteral("--analysis"), analysis_, QStringLiteral("--budgets"), QStringLiteral("3,70MiB"),
                            QStringLiteral("--text"), shared("wikitext-2-raw/wiki.test.raw")});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("70MiB"), r.err.constData());
    }

    // export -> the folder works as --model everywhere: info, eval, bench.
    void exportAndReload() {
        const QString out = tmp_.filePath(QStringLiteral("exported"));
        Run r = cli(QStringList{QStringLiteral("export")} + model_ +
                    QStringList{QStringLiteral("--analysis"), analysis_, QStringLiteral("--budget"), QStringLiteral("4.5"),
                                QStringLiteral("--quantizer"), QStringLiteral("gptq"), QStringLiteral("--out"), out,
                                QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        const double rel = json_of(r).value(QStringLiteral("size_rel_diff")).toDouble();
        QVERIFY2(rel <= 0 && rel > -0.005, qPrintable(QString::number(rel)));
        r = cli({QStringLiteral("info"), QStringLiteral("--model"), out, QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(json_of(r).value(QStringLiteral("format")).toString(), QStringLiteral("scalebits-export"));
        r = cli({QStringLiteral("eval"), QStringLiteral("--model"), out, QStringLiteral("--text"),
                 shared("wikitext-2-raw/wiki.test.raw"), QStringLiteral("--max-bytes"), QStringLiteral("20000"),
                 QStringLiteral("--ctx"), QStringLiteral("128"), QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        const double ppl = json_of(r).value(QStringLiteral("ppl")).toDouble();
        QVERIFY(ppl > 1 && std::isfinite(ppl));
        r = cli({QStringLiteral("bench"), QStringLiteral("--model"), out, QStringLiteral("--steps"), QStringLiteral("8"),
                 QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        const auto j = json_of(r);
        QVERIFY(j.value(QStringLiteral("packed")).toObject().value(QStringLiteral("tokens_per_s")).toDouble() > 0);
        QVERIFY(j.value(QStringLiteral("dense_fp32")).toObject().value(QStringLiteral("tokens_per_s")).toDouble() > 0);
        // The group method is a quality reference the kernels cannot run.
        r = cli(QStringList{QStringLiteral("export")} + model_ +
                QStringList{QStringLiteral("--analysis"), analysis_, QStringLiteral("--budget"), QStringLiteral("4.5"),
                            QStringLiteral("--method"), QStringLiteral("group"), QStringLiteral("--out"),
                            tmp_.filePath(QStringLiteral("group"))});
        QCOMPARE(r.code, 2);
    }

    // The lean runner (no LibTorch) generates the same greedy tokens as the CLI's native engine, and
    // its peak memory is the model file + the KV cache + at most 100 MB (more under the sanitizers,
    // whose shadow memory counts too).
    void leanRunnerMatchesTheCli() {
        const QString out = tmp_.filePath(QStringLiteral("exported"));
        const QStringList gen = {QStringLiteral("--model"), out, QStringLiteral("--prompt"), QStringLiteral("Once upon a time"),
                                 QStringLiteral("--steps"), QStringLiteral("48"), QStringLiteral("--json")};
        const Run lean = cli(gen, QStringLiteral(SCALEBITS_RUN));
        QVERIFY2(lean.code == 0, lean.err.constData());
        const Run full = cli(QStringList{QStringLiteral("generate")} + gen);
        QVERIFY2(full.code == 0, full.err.constData());
        const auto a = json_of(lean), b = json_of(full);
        QVERIFY(a.value(QStringLiteral("tokens")).toArray().size() >= 40);
        QCOMPARE(a.value(QStringLiteral("tokens")).toArray(), b.value(QStringLiteral("tokens")).toArray());
        QCOMPARE(a.value(QStringLiteral("text")).toString(), b.value(QStringLiteral("text")).toString());
        QVERIFY(a.value(QStringLiteral("tokens_per_s")).toDouble() > 0);
        const double file_mb = a.value(QStringLiteral("model_file_bytes")).toDouble() / 1048576.0;
        const double kv_mb = a.value(QStringLiteral("kv_cache_bytes")).toDouble() / 1048576.0;
        const double peak = a.value(QStringLiteral("peak_rss_mb")).toDouble();
#if defined(__SANITIZE_ADDRESS__)
        const double slack = 400;
#else
        const double slack = 100;
#endif
        QVERIFY2(file_mb > 0 && peak > file_mb && peak <= file_mb + kv_mb + slack,
                 qPrintable(QStringLiteral("peak %1 MiB, file %2 MiB, KV %3 MiB").arg(peak).arg(file_mb).arg(kv_mb)));
        // A checkpoint that is not an export, and a bad setting: exit 2, one line naming the problem.
        Run r = cli({QStringLiteral("--model"), shared("stories260K/stories260K.bin"), QStringLiteral("--tokenizer"),
                     shared("stories260K/tok512.bin")},
                    QStringLiteral(SCALEBITS_RUN));
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("stories260K.bin") && r.err.contains("not an exported") && r.err.count('\n') == 1,
                 r.err.constData());
        r = cli({QStringLiteral("--model"), out, QStringLiteral("--temperature"), QStringLiteral("-1")}, QStringLiteral(SCALEBITS_RUN));
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.startsWith("scalebits-run: error: --temperature"), r.err.constData());
    }

    void benchKernels() {
        const Run r = cli({QStringLiteral("bench-kernels"), QStringLiteral("--shapes"), QStringLiteral("300x200"),
                           QStringLiteral("--bits"), QStringLiteral("3,mixed"), QStringLiteral("--batch"),
                           QStringLiteral("1,3"), QStringLiteral("--iters"), QStringLiteral("3"), QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY(json_of(r).value(QStringLiteral("bandwidth_gbps")).toDouble() > 0);
        QCOMPARE(cli({QStringLiteral("bench-kernels"), QStringLiteral("--bits"), QStringLiteral("9")}).code, 2);
    }

    void wrongModelIsRefused() {
        const Run r = cli({QStringLiteral("quantize-eval"), QStringLiteral("--model"), shared("c4/c4-sample.utf8"),
                           QStringLiteral("--analysis"), analysis_, QStringLiteral("--uniform"), QStringLiteral("4"),
                           QStringLiteral("--text"), shared("wikitext-2-raw/wiki.test.raw")});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("does not match"), r.err.constData());
    }

    void corruptAnalysisIsRefused() {
        QFile in(analysis_);
        QVERIFY(in.open(QIODevice::ReadOnly));
        QByteArray bytes = in.readAll();
        const QString cut = tmp_.filePath(QStringLiteral("cut.analysis"));
        QFile out(cut);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(bytes.left(bytes.size() / 2));
        out.close();
        const Run r = cli({QStringLiteral("inspect"), cut});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("cut.analysis"), r.err.constData());
        // One flipped bit in a cost table: refused when the file is opened.
        const QString flipped = flip_in_tensor(bytes, QStringLiteral("cost.original."), QStringLiteral("flipped.analysis"));
        QVERIFY(!flipped.isEmpty());
        const Run r2 = cli({QStringLiteral("inspect"), flipped});
        QCOMPARE(r2.code, 2);
        QVERIFY2(r2.err.contains("flipped.analysis") && r2.err.contains("checksum"), r2.err.constData());
        // One flipped bit in a GPTQ Hessian: the file opens (Hessians are checked where they are
        // read), and a GPTQ export refuses it naming the file and the tensor.
        const QString hflipped = flip_in_tensor(bytes, QStringLiteral("hessian."), QStringLiteral("hflipped.analysis"));
        QVERIFY(!hflipped.isEmpty());
        QCOMPARE(cli({QStringLiteral("inspect"), hflipped}).code, 0);
        const Run r3 = cli(QStringList{QStringLiteral("export")} + model_ +
                           QStringList{QStringLiteral("--analysis"), hflipped, QStringLiteral("--budget"), QStringLiteral("4"),
                                       QStringLiteral("--quantizer"), QStringLiteral("gptq"), QStringLiteral("--out"),
                                       tmp_.filePath(QStringLiteral("hflipped-export"))});
        QCOMPARE(r3.code, 2);
        QVERIFY2(r3.err.contains("hflipped.analysis") && r3.err.contains("hessian.") && r3.err.contains("checksum"),
                 r3.err.constData());
        QVERIFY(!QFileInfo::exists(tmp_.filePath(QStringLiteral("hflipped-export"))));
    }

private:
    // A copy of the safetensors file `bytes` with one bit flipped in the middle of the first tensor
    // whose name starts with `prefix` (offsets from its JSON header); empty when there is none.
    QString flip_in_tensor(QByteArray bytes, const QString& prefix, const QString& name) {
        quint64 header = 0;
        for (int i = 7; i >= 0; --i) header = (header << 8) | static_cast<quint8>(bytes[i]);
        const QJsonObject h = QJsonDocument::fromJson(bytes.mid(8, static_cast<qsizetype>(header))).object();
        for (auto it = h.begin(); it != h.end(); ++it) {
            if (!it.key().startsWith(prefix)) continue;
            const QJsonArray off = it.value().toObject().value(QStringLiteral("data_offsets")).toArray();
            const qint64 at = 8 + static_cast<qint64>(header) + (off[0].toInteger() + off[1].toInteger()) / 2;
            bytes[at] = static_cast<char>(bytes[at] ^ 0x04);
            const QString path = tmp_.filePath(name);
            QFile f(path);
            if (!f.open(QIODevice::WriteOnly)) return {};
            f.write(bytes);
            return path;
        }
        return {};
    }
};

QTEST_GUILESS_MAIN(TestAnalysisCli)
#include "tst_analysis_cli.moc"
