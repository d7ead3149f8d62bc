// The layer-streamed analysis against the in-memory one (the reference), with the boundary
// activations in memory and on disk; resuming after a cancel at every layer of every pass gives the
// same file; a work folder of other options is refused; a killed CLI run resumes to the same file.
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/analysis/allocation.h"
#include "core/analysis/analysis_file.h"
#include "core/analysis/sweep.h"
#include "core/analysis/streamed_analyze.h"
#include "core/eval/perplexity.h"
#include "core/eval/streamed_perplexity.h"
#include "core/eval/text.h"
#include "core/io/safetensors.h"
#include "hang_guard.h"
#include "tst_calib_fixture.h"

using namespace scalebits;
using namespace scalebits::testing;

namespace {

analysis::AnalysisOptions small_options() {
    analysis::AnalysisOptions o;
    o.calib_text = kC4;
    o.samples = 6;
    o.seq_len = 48;
    o.tile_rows = 16;  // stories260K's 64 x 64 / 172 x 64 matrices in many tiles, with edge tiles
    o.tile_cols = 32;
    o.group = 16;
    return o;
}

double rel(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return INFINITY;
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff = std::max(diff, std::abs(a[i] - b[i]));
        scale = std::max(scale, std::abs(b[i]));
    }
    return diff / (scale > 0 ? scale : 1.0);
}

torch::Tensor tensor_of(const std::filesystem::path& file, const std::string& name) {
    const io::HostTensor t = analysis::read_analysis_tensor(file, name);
    const auto v = t.to_float();
    return torch::tensor(v, torch::kDouble);
}

// Every tensor's checksum and the description without its wall time: what "the same file" means
// for two runs (the time differs by nature).
struct FileIdentity {
    std::map<std::string, std::string> checksums;
    nlohmann::json description;
    bool operator==(const FileIdentity&) const = default;
};

FileIdentity identity(const std::filesystem::path& file) {
    const io::SafetensorsFile f = io::read_safetensors(file);
    FileIdentity id;
    const auto sums = nlohmann::json::parse(f.metadata.at(analysis::kChecksumsKey));
    for (const auto& [k, v] : sums.items()) id.checksums[k] = v.get<std::string>();
    id.description = nlohmann::json::parse(f.metadata.at("scalebits.analysis"));
    id.description.erase("seconds");
    return id;
}

}  // namespace

class TestStreamedAnalysis : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    std::filesystem::path dir(const std::string& name) const { return std::filesystem::path(tmp_.path().toStdString()) / name; }

private slots:
    // Must show 1: the same tables, permutations and statistics as the in-memory analysis.
    void equalsTheInMemoryAnalysis_data() {
        QTest::addColumn<bool>("onDisk");
        QTest::addColumn<bool>("heads");
        QTest::newRow("activations in memory") << false << false;
        QTest::newRow("activations on disk") << true << false;
        QTest::newRow("head reordering") << false << true;
    }
    void equalsTheInMemoryAnalysis() {
        QFETCH(bool, onDisk);
        QFETCH(bool, heads);
        const std::string tag = std::to_string(onDisk) + std::to_string(heads);
        analysis::AnalysisOptions o = small_options();
        o.reorder_heads = heads;
        auto model = stories_model();
        const auto mem_file = dir("mem" + tag + ".sba"), str_file = dir("str" + tag + ".sba");
        const analysis::Analysis mem = analysis::analyze(stories_checkpoint(), *model, o, mem_file);
        analysis::StreamOptions so;
        // A limit just above one layer's working set: the boundary activations no longer fit.
        analysis::StreamReport probe;
        if (onDisk) {
            analysis::analyze_streamed(stories_checkpoint(), o, dir("probe.sba"), {}, {}, &probe);
            so.max_memory = probe.layer_working_set + probe.activation_bytes / 2;
        }
        analysis::StreamReport rep;
        const analysis::Analysis str = analysis::analyze_streamed(stories_checkpoint(), o, str_file, so, {}, &rep);
        QCOMPARE(rep.activations_on_disk, onDisk);
        QVERIFY2(!std::filesystem::exists(str_file.string() + ".work"), "the work folder was left behind");

        QCOMPARE(str.matrices.size(), mem.matrices.size());
        QVERIFY(str.permutations.hidden == mem.permutations.hidden);
        QVERIFY(str.permutations.ffn == mem.permutations.ffn);
        QVERIFY(str.permutations.heads == mem.permutations.heads);
        QVERIFY(str.permutations.v_dims == mem.permutations.v_dims);
        QVERIFY(!str.permutations.is_identity());
        QCOMPARE(str.permutations.heads.empty(), !heads);
        QVERIFY(std::abs(str.calib_loss - mem.calib_loss) <= 1e-6 * mem.calib_loss);
        QCOMPARE(str.unquantized_bytes, mem.unquantized_bytes);
        double worst = 0;
        for (std::size_t i = 0; i < mem.matrices.size(); ++i) {
            const auto& a = str.matrices[i];
            const auto& b = mem.matrices[i];
            QCOMPARE(a.name, b.name);
            QCOMPARE(a.tile_count(), b.tile_count());
            for (double d : {rel(a.cost_original, b.cost_original), rel(a.cost_reordered, b.cost_reordered),
                             rel(a.fisher_original, b.fisher_original), rel(a.fisher_reordered, b.fisher_reordered),
                             rel({a.fisher_total}, {b.fisher_total}), rel({a.factored_corr}, {b.factored_corr})})
                worst = std::max(worst, d);
            for (const std::string prefix : {"cost.group.", "r.", "c."})
                worst = std::max(worst, rel_diff(tensor_of(str_file, prefix + a.name), tensor_of(mem_file, prefix + a.name)));
        }
        for (int l = 0; l < mem.config.n_layers; ++l)
            for (const char* site : {"attn_in", "o_in", "mlp_in", "down_in"}) {
                const std::string name = "hessian." + std::to_string(l) + "." + site;
                worst = std::max(worst, rel_diff(tensor_of(str_file, name), tensor_of(mem_file, name)));
            }
        qInfo() << "largest relative difference, streamed vs in memory:" << worst;
        QVERIFY2(worst <= 1e-5, qPrintable(QString::number(worst)));
        // And the file reloads as an analysis of the same model.
        const analysis::Analysis back = analysis::load_analysis(str_file);
        QCOMPARE(back.matrices.size(), mem.matrices.size());
    }

    // Must show 3: a cancel at each layer of each pass, then a resume, gives the file of an
    // uninterrupted run (tensors and description; the wall time aside).
    void resumeAfterACancelAtEveryLayerGivesTheSameFile() {
        // Two short sequences: every boundary costs two analyses, and what is resumed does not depend
        // on the amount of calibration.
        analysis::AnalysisOptions o = small_options();
        o.samples = 2;
        o.seq_len = 32;
        const auto whole = dir("whole.sba");
        analysis::analyze_streamed(stories_checkpoint(), o, whole);
        const FileIdentity want = identity(whole);
        const int L = static_cast<int>(stories_checkpoint().config.n_layers);
        // The k-th distinct (stage, unit) a run reports is where it is cancelled: every layer of the
        // forward, of the top-down backward and of the reordered pass, and the writing.
        int boundaries = 0;
        for (int cut = 0;; ++cut) {
            const auto out = dir("cut" + std::to_string(cut) + ".sba");
            CancelToken token;
            Progress p;
            p.token = &token;
            int seen = -1;
            double last_unit = -1;
            p.report = [&](double done, double, const std::string&) {
                const double unit = std::floor(done);
                if (unit != last_unit) {
                    last_unit = unit;
                    if (++seen == cut) token.cancel();
                }
            };
            bool cancelled = false;
            try {
                analysis::analyze_streamed(stories_checkpoint(), o, out, {}, p);
            } catch (const CancelledError&) {
                cancelled = true;
            }
            if (!cancelled) break;  // past the last boundary
            ++boundaries;
            QVERIFY(!std::filesystem::exists(out));
            QVERIFY(std::filesystem::exists(out.string() + ".work/manifest.json"));
            analysis::StreamOptions so;
            so.resume = true;
            analysis::StreamReport rep;
            analysis::analyze_streamed(stories_checkpoint(), o, out, so, {}, &rep);
            QVERIFY2(identity(out) == want, qPrintable(QStringLiteral("cut %1 resumed to another file").arg(cut)));
            QVERIFY(!std::filesystem::exists(out.string() + ".work"));
        }
        qInfo() << "cancelled and resumed at" << boundaries << "points";
        QVERIFY2(boundaries >= 3 * L + 1, qPrintable(QString::number(boundaries)));
    }

    void resumeRefusesAFolderOfOtherOptions() {
        analysis::AnalysisOptions o = small_options();
        const auto out = dir("other.sba");
        CancelToken token;
        Progress p;
        p.token = &token;
        p.report = [&](double done, double, const std::string&) {
            if (done >= 2) token.cancel();
        };
        QVERIFY_THROWS_EXCEPTION(CancelledError, analysis::analyze_streamed(stories_checkpoint(), o, out, {}, p));
        o.samples = 5;
        analysis::StreamOptions so;
        so.resume = true;
        try {
            analysis::analyze_streamed(stories_checkpoint(), o, out, so);
            QFAIL("a work folder of other options was resumed");
        } catch (const InputError& e) {
            QVERIFY2(std::string(e.what()).find("other options") != std::string::npos, e.what());
            QVERIFY2(std::string(e.what()).find(out.string() + ".work") != std::string::npos, e.what());
        }
        // Without --resume the folder is started over.
        analysis::analyze_streamed(stories_checkpoint(), o, out);
        QVERIFY(std::filesystem::exists(out));
    }

    void aLimitBelowOneLayerIsRefused() {
        analysis::StreamOptions so;
        so.max_memory = 4096;
        try {
            analysis::analyze_streamed(stories_checkpoint(), small_options(), dir("tiny.sba"), so);
            QFAIL("a 4 KiB limit was accepted");
        } catch (const InputError& e) {
            QVERIFY2(std::string(e.what()).find("one layer's working set") != std::string::npos, e.what());
        }
    }

    // Layer-outer perplexity equals the whole-model one: stories260K (windows in several groups and
    // batches) and the families whose layers differ (biases, q/k norms, a window shorter than ctx).
    void streamedPerplexityEqualsTheDenseOne_data() {
        QTest::addColumn<QString>("model");
        QTest::newRow("stories260K") << QString();
        for (const char* f : {"qwen2", "qwen3", "mistral", "llama3"}) QTest::newRow(f) << QString::fromLatin1(f);
    }
    void streamedPerplexityEqualsTheDenseOne() {
        QFETCH(QString, model);
        const model::Checkpoint ck =
            model.isEmpty() ? stories_checkpoint()
                            : model::load_checkpoint(std::filesystem::path(SCALEBITS_SOURCE_DIR) / "tests" / "data" / "families" /
                                                     model.toStdString());
        const auto tokens = eval::tokenize_text(*ck.tokenizer, eval::read_text(kWiki, 60000));
        eval::PerplexityOptions o;
        o.ctx = 48;
        o.max_windows = 9;
        o.batch = 2;
        const model::LlamaModel dense(ck);
        const auto want = eval::perplexity(dense, tokens, o);
        const auto got = eval::perplexity_streamed(ck, torch::kCPU, tokens, o, {}, 4 * 2 * 48 * ck.config.dim * 4);
        QCOMPARE(got.windows, want.windows);
        QCOMPARE(got.predicted, want.predicted);
        const double rel_ppl = std::abs(got.ppl / want.ppl - 1);
        qInfo() << "perplexity" << want.ppl << "streamed" << got.ppl << "relative difference" << rel_ppl;
        QVERIFY2(rel_ppl <= 1e-6, qPrintable(QString::number(rel_ppl)));
    }

    // A streamed model (weights read from the checkpoint one layer at a time at every forward) gives
    // the whole model's logits, with a KV cache too: generation of models larger than memory.
    void streamedModelGivesTheWholeModelsLogits_data() {
        QTest::addColumn<QString>("model");
        QTest::newRow("stories260K") << QString();
        for (const char* f : {"qwen2", "qwen3", "mistral", "llama3"}) QTest::newRow(f) << QString::fromLatin1(f);
    }
    void streamedModelGivesTheWholeModelsLogits() {
        QFETCH(QString, model);
        const model::Checkpoint ck =
            model.isEmpty() ? stories_checkpoint()
                            : model::load_checkpoint(std::filesystem::path(SCALEBITS_SOURCE_DIR) / "tests" / "data" / "families" /
                                                     model.toStdString());
        const model::LlamaModel whole(ck);
        const model::LlamaModel streamed(ck, torch::kCPU, model::Residency::Streamed);
        QVERIFY(streamed.streamed() && streamed.layers().empty());
        const torch::Tensor ids = text_batch(*ck.tokenizer, kWiki, 2, 40);
        model::KVCache c1, c2;
        double worst = 0;
        for (const auto& [from, len] : {std::pair<std::int64_t, std::int64_t>{0, 24}, {24, 1}, {25, 15}}) {
            const auto part = ids.narrow(1, from, len);
            worst = std::max(worst, rel_diff(streamed.forward(part, &c2), whole.forward(part, &c1)));
        }
        qInfo() << "largest relative logit difference, streamed vs whole:" << worst;
        QVERIFY2(worst <= 1e-5, qPrintable(QString::number(worst)));
    }

    // An allocation evaluated layer by layer (each layer loaded, permuted and fake-quantized when the
    // pass reaches it, the full-precision side kept as final hidden states) scores as the whole
    // fake-quantized model against the whole full-precision one: every method's layout, both
    // quantizers, and families whose layers carry biases, head norms and a sliding window.
    void streamedEvaluationEqualsTheWholeModelOne_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<int>("method");
        QTest::addColumn<int>("quantizer");
        const auto scalebits = static_cast<int>(AllocMethod::ScaleBits);
        const auto rtn = static_cast<int>(analysis::Quantizer::Rtn), gptq = static_cast<int>(analysis::Quantizer::Gptq);
        QTest::newRow("stories260K scalebits rtn") << QString() << scalebits << rtn;
        QTest::newRow("stories260K scalebits gptq") << QString() << scalebits << gptq;
        QTest::newRow("stories260K tile-noreorder gptq") << QString() << static_cast<int>(AllocMethod::TileNoReorder) << gptq;
        QTest::newRow("stories260K group rtn") << QString() << static_cast<int>(AllocMethod::Group) << rtn;
        QTest::newRow("stories260K layer rtn") << QString() << static_cast<int>(AllocMethod::Layer) << rtn;
        for (const char* f : {"qwen2", "qwen3", "mistral"})
            QTest::newRow((std::string(f) + " scalebits gptq").c_str()) << QString::fromLatin1(f) << scalebits << gptq;
    }
    void streamedEvaluationEqualsTheWholeModelOne() {
        QFETCH(QString, model);
        QFETCH(int, method);
        QFETCH(int, quantizer);
        const bool stories = model.isEmpty();
        const model::Checkpoint family =
            stories ? model::Checkpoint{}
                    : model::load_checkpoint(std::filesystem::path(SCALEBITS_SOURCE_DIR) / "tests" / "data" / "families" /
                                             model.toStdString());
        const model::Checkpoint& ck = stories ? stories_checkpoint() : family;
        analysis::AnalysisOptions o = small_options();
        o.reorder_heads = !stories;
        const auto file = dir("eval-" + std::to_string(method) + "-" + model.toStdString() + ".sba");
        const analysis::Analysis a = analysis::analyze_streamed(ck, o, file);
        const auto alloc = analysis::allocate(a, static_cast<AllocMethod>(method), Budget::bits_per_weight(3.5));
        const auto q = static_cast<analysis::Quantizer>(quantizer);
        const auto tokens = eval::tokenize_text(*ck.tokenizer, eval::read_text(kWiki, 60000));
        eval::PerplexityOptions po;
        po.ctx = 48;
        po.max_windows = 5;
        const model::LlamaModel fp(ck);
        const eval::ReferenceDistributions whole_ref(fp, tokens, po);
        const auto want = analysis::evaluate_allocation(ck, a, alloc, q, whole_ref);
        // Groups of two windows: every layer is loaded and quantized three times.
        const eval::StreamedReference ref(ck, torch::kCPU, tokens, po, {}, 2 * 2 * 48 * ck.config.dim * 4);
        const auto got = analysis::evaluate_allocation(ck, a, alloc, q, ref);
        const double rel_base = std::abs(ref.baseline().ppl / whole_ref.baseline().ppl - 1);
        const double rel_ppl = std::abs(got.ppl.ppl / want.ppl.ppl - 1);
        const double rel_kl = std::abs(got.kl - want.kl) / want.kl;
        qInfo() << "ppl" << want.ppl.ppl << "streamed" << got.ppl.ppl << "KL" << want.kl << "streamed" << got.kl;
        QCOMPARE(got.ppl.windows, want.ppl.windows);
        QVERIFY2(rel_base <= 1e-6, qPrintable(QString::number(rel_base)));
        QVERIFY2(rel_ppl <= 1e-5, qPrintable(QString::number(rel_ppl)));
        QVERIFY2(rel_kl <= 1e-3, qPrintable(QString::number(rel_kl)));
        QVERIFY2(std::abs(got.kl_max - want.kl_max) <= 1e-3 * want.kl_max, qPrintable(QString::number(got.kl_max)));
    }

    // The CLI killed with SIGKILL once the backward has finished two layers, then --resume: the
    // same file as an uninterrupted CLI run.
    void killedCliRunResumesToTheSameFile() {
        const auto whole = dir("cli-whole.sba"), out = dir("cli-killed.sba");
        const std::vector<std::string> common = {SCALEBITS_CLI, "analyze", "--model", kStoriesBin.string(), "--tokenizer",
                                                 kStoriesTok.string(), "--calib", kC4.string(), "--samples", "40",
                                                 "--seqlen", "64", "--tile", "16x32", "--group", "16", "--out"};
        auto run = [&](std::vector<std::string> argv, bool kill_midway) {
            const pid_t pid = ::fork();
            if (pid == 0) {
                std::vector<char*> a;
                for (auto& s : argv) a.push_back(s.data());
                a.push_back(nullptr);
                ::freopen("/dev/null", "w", stdout);
                ::execv(a[0], a.data());
                ::_exit(127);
            }
            const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(kHangGuardMs);
            bool killed = false;
            while (kill_midway) {
                const auto work = std::filesystem::path(argv[argv.size() - 1] + ".work");
                if (std::filesystem::exists(work / "a.3.safetensors")) {
                    ::kill(pid, SIGKILL);
                    killed = true;
                    break;
                }
                int st = 0;
                if (::waitpid(pid, &st, WNOHANG) == pid) return std::make_pair(false, st);
                if (std::chrono::steady_clock::now() > give_up) {
                    ::kill(pid, SIGKILL);
                    ::waitpid(pid, &st, 0);
                    return std::make_pair(false, -1);
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
            int st = 0;
            ::waitpid(pid, &st, 0);
            return std::make_pair(killed, st);
        };
        auto argv_whole = common;
        argv_whole.push_back(whole.string());
        QCOMPARE(run(argv_whole, false).second, 0);
        auto argv_out = common;
        argv_out.push_back(out.string());
        const auto [killed, status] = run(argv_out, true);
        QVERIFY2(killed, "the run ended before it could be killed");
        QVERIFY(WIFSIGNALED(status));
        QVERIFY(!std::filesystem::exists(out));
        argv_out.push_back("--resume");
        QCOMPARE(run(argv_out, false).second, 0);
        QVERIFY(identity(out) == identity(whole));
    }
};

QTEST_GUILESS_MAIN(TestStreamedAnalysis)
#include "tst_streamed_analysis.moc"
