// Model families against Hugging Face transformers (issue 13): for every fixture of
// tests/data/families (made by tests/reference/make_family_fixtures.py) and both its Hugging Face
// folder and its GGUF conversion by llama.cpp's converter, the loaded config has the family's
// switches, the tokenizer gives the tokenizers library's ids, perplexity by the tool's protocol
// equals transformers' within 1e-4 (windows longer than Mistral's sliding window and Llama 3's
// original context), greedy decoding gives the same 32 ids; the reordered model gives the original
// logits; analyze -> allocate 3.0 -> export -> reload runs packed as the same family with the
// fake-quantized model's perplexity; broken family fields are refused naming the file and the field.
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/analysis/allocation.h"
#include "core/analysis/analysis_file.h"
#include "core/analysis/analyze.h"
#include "core/analysis/streamed_analyze.h"
#include "core/analysis/sweep.h"
#include "core/calib/calib_set.h"
#include "core/calib/sensitivity.h"
#include "core/eval/perplexity.h"
#include "core/eval/reference.h"
#include "core/eval/text.h"
#include "core/export/export.h"
#include "core/export/export_parts.h"
#include "core/io/gguf.h"
#include "core/io/gguf_llama.h"
#include "core/io/hf_config.h"
#include "core/io/safetensors.h"
#include "core/io/safetensors_writer.h"
#include "core/model/checkpoint.h"
#include "core/model/llama.h"
#include "core/reorder/reorder.h"
#include "core/tokenizer/factory.h"
#include "core/tokenizer/hf_tokenizer_files.h"
#include "core/util/error.h"
#include "hang_guard.h"

// Qt after LibTorch: Qt's `slots` macro would break torch headers that name a method slots().
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

namespace fs = std::filesystem;
using namespace scalebits;
using nlohmann::json;

namespace {

const fs::path kFamilies = fs::path(SCALEBITS_SOURCE_DIR) / "tests" / "data" / "families";
const fs::path kWiki = fs::path(SCALEBITS_SHARED_DATA) / "wikitext-2-raw" / "wiki.test.raw";
const fs::path kC4 = fs::path(SCALEBITS_SHARED_DATA) / "c4" / "c4-sample.utf8";
const char* const kNames[] = {"llama3", "llama-linear", "qwen2", "qwen3", "mistral"};

json reference(const std::string& name) {
    std::ifstream in(kFamilies / name / "reference.json");
    return json::parse(in);
}

fs::path model_path(const std::string& name, bool gguf) {
    return gguf ? kFamilies / name / "model.gguf" : kFamilies / name;
}

// What the loaded config must say. The GGUF of a Mistral model has no window (llama.cpp's converter
// writes it as "llama" and drops it), and llama.cpp stores Llama 3 scaling as per-dimension factors.
model::Family expected_family(const std::string& name, bool gguf) {
    if (name == "qwen2") return model::Family::Qwen2;
    if (name == "qwen3") return model::Family::Qwen3;
    if (name == "mistral" && !gguf) return model::Family::Mistral;
    return model::Family::Llama;
}

std::vector<std::int32_t> ids_of(const json& j) { return j.get<std::vector<std::int32_t>>(); }

// What `export --format hf` writes beside the model of the GGUF `gguf` into `dir`, read back: its
// tokenizer.json, or null when it wrote none.
std::shared_ptr<const tokenizer::Tokenizer> hf_export_tokenizer(const fs::path& gguf, const fs::path& dir) {
    exporting::detail::write_tokenizer(model::load_checkpoint(gguf), dir, /*hugging_face=*/true);
    return fs::exists(dir / "tokenizer.json") ? tokenizer::load_tokenizer_json(dir / "tokenizer.json") : nullptr;
}

bool same_roles(const tokenizer::Tokenizer& a, const tokenizer::Tokenizer& b) {
    return a.bos_id() == b.bos_id() && a.eos_id() == b.eos_id() && a.default_add_bos() == b.default_add_bos() &&
           a.vocab_size() == b.vocab_size();
}

// Fails the test unless `tok` gives the reference ids of every test string and of the WikiText-2
// stretch; returns how many strings it checked.
int expect_reference_ids(const tokenizer::Tokenizer& tok, const json& ref, bool legacy) {
    int checked = 0;
    for (const json& c : ref.at(legacy ? "tokenizer_cases_legacy" : "tokenizer_cases")) {
        const std::string text = c.at("text").get<std::string>();
        const auto got = tok.encode(text, false);
        const auto want = ids_of(c.at("ids"));
        if (got != want) {
            QString g, w;
            for (auto i : got) g += QString::number(i) + QLatin1Char(' ');
            for (auto i : want) w += QString::number(i) + QLatin1Char(' ');
            QTest::qFail(qPrintable(QStringLiteral("\"%1\": got %2, want %3").arg(QString::fromStdString(text), g, w)),
                         __FILE__, __LINE__);
            return checked;
        }
        ++checked;
    }
    const std::string text = eval::read_text(kWiki, ref.at("text_bytes").get<std::int64_t>());
    if (eval::tokenize_text(tok, text) != ids_of(ref.at(legacy ? "eval_ids_legacy" : "eval_ids")))
        QTest::qFail("the WikiText-2 stretch is tokenized differently", __FILE__, __LINE__);
    if (checked < 40) QTest::qFail("fewer than 40 test strings", __FILE__, __LINE__);
    return checked;
}

std::vector<std::int32_t> greedy(const model::LlamaModel& m, const std::vector<std::int32_t>& prompt, int steps) {
    torch::NoGradGuard no_grad;
    model::KVCache cache;
    std::vector<std::int64_t> p(prompt.begin(), prompt.end());
    torch::Tensor logits = m.forward(torch::tensor(p).view({1, -1}), &cache);
    std::vector<std::int32_t> out;
    for (int i = 0; i < steps; ++i) {
        const auto next = static_cast<std::int32_t>(logits[0][-1].argmax().item<std::int64_t>());
        out.push_back(next);
        logits = m.forward(torch::tensor({static_cast<std::int64_t>(next)}).view({1, 1}), &cache);
    }
    return out;
}

// llama.cpp reads a GGUF SentencePiece vocabulary as SentencePiece itself does: the "\u2581" prefix
// goes in front of every piece of text, also one that starts with a space or follows a special
// token. That is transformers' legacy conversion (Prepend + Replace); Mistral's tokenizer.json is the
// non-legacy one (Metaspace, prepend_scheme "first"), so its GGUF is checked against the legacy
// reading of the same tokenizer.model, which the reference script records too.
bool legacy_reading(const std::string& name, bool gguf) { return gguf && name == "mistral"; }

void add_rows() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<bool>("gguf");
    for (const char* n : kNames) {
        QTest::newRow((std::string(n) + " hf").c_str()) << QString::fromLatin1(n) << false;
        QTest::newRow((std::string(n) + " gguf").c_str()) << QString::fromLatin1(n) << true;
    }
}

struct Run {
    int code = -1;
    QByteArray err;
};

Run cli(const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral(SCALEBITS_CLI), args);
    Run r;
    if (!p.waitForFinished(testing::kHangGuardMs)) return r;
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
    r.err = p.readAllStandardError();
    return r;
}

void copy_folder(const fs::path& from, const fs::path& to) {
    fs::create_directories(to);
    for (const auto& e : fs::directory_iterator(from))
        if (e.path().extension() != ".gguf") fs::copy_file(e.path(), to / e.path().filename());
}

}  // namespace

class TestFamilies : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;

    fs::path dir(const std::string& name) const { return fs::path(tmp_.path().toStdString()) / name; }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        for (const char* n : kNames) QVERIFY2(fs::exists(kFamilies / n / "reference.json"), n);
    }

    void loadsAsItsFamily_data() { add_rows(); }
    void loadsAsItsFamily() {
        QFETCH(QString, name);
        QFETCH(bool, gguf);
        const std::string n = name.toStdString();
        const model::Checkpoint ck = model::load_checkpoint(model_path(n, gguf));
        const auto& c = ck.config;
        QCOMPARE(model::family_name(c.family), model::family_name(expected_family(n, gguf)));
        using RT = model::RopeScaling::Type;
        if (n == "llama3") QVERIFY(c.rope_scaling.type == (gguf ? RT::FreqFactors : RT::Llama3));
        if (n == "llama-linear") QVERIFY(c.rope_scaling.type == RT::Linear && c.rope_scaling.factor == 4.0);
        if (n == "qwen2") QVERIFY(c.has_bias(0) && c.has_bias(1) && c.has_bias(2) && !c.has_bias(3) && c.rope_theta == 1e6);
        QCOMPARE(c.qk_norm, n == "qwen3");
        if (n == "qwen3") QCOMPARE(c.head_dim, std::int64_t(32));
        QCOMPARE(c.sliding_window, std::int64_t(n == "mistral" && !gguf ? 16 : 0));
        QCOMPARE(c.tie_word_embeddings, n == "llama-linear" || n == "qwen2");
        qInfo("%s: %s", qPrintable(name), model::describe_family(c).c_str());
    }

    // Ids of every test string equal the tokenizers library's (tokenizer.json, and the GGUF's
    // tokenizer.ggml.* vocabulary as llama.cpp's converter wrote it).
    void tokenizerGivesTheReferenceIds_data() { add_rows(); }
    void tokenizerGivesTheReferenceIds() {
        QFETCH(QString, name);
        QFETCH(bool, gguf);
        const std::string n = name.toStdString();
        const json ref = reference(n);
        const model::Checkpoint ck = model::load_checkpoint(model_path(n, gguf));
        QVERIFY(ck.tokenizer);
        const int checked = expect_reference_ids(*ck.tokenizer, ref, legacy_reading(n, gguf));
        qInfo("%s %s: %d strings and %lld bytes of WikiText-2 tokenized as the reference%s", qPrintable(name),
              gguf ? "gguf" : "hf", checked, static_cast<long long>(ref.at("text_bytes").get<std::int64_t>()),
              legacy_reading(n, gguf) ? " (legacy SentencePiece reading)" : "");
    }

    // export --format hf from a GGUF model writes its byte-level vocabulary as tokenizer.json +
    // tokenizer_config.json; read back, they give the tokenizers library's ids for every test string
    // and the GGUF's BOS/EOS roles. SentencePiece vocabularies (no merges) are refused by name.
    void hfTokenizerFilesOfAGgufGiveTheReferenceIds_data() {
        QTest::addColumn<QString>("name");
        for (const char* n : kNames) QTest::newRow(n) << QString::fromLatin1(n);
    }
    void hfTokenizerFilesOfAGgufGiveTheReferenceIds() {
        QFETCH(QString, name);
        const std::string n = name.toStdString();
        const fs::path gguf = model_path(n, true);
        const auto vocab = io::gguf_vocab(io::read_gguf(gguf));
        QVERIFY(vocab.has_value());
        QTemporaryDir dir;
        const auto written = hf_export_tokenizer(gguf, dir.path().toStdString());
        if (!tokenizer::has_hf_tokenizer_files(*vocab)) {
            QCOMPARE(vocab->model, std::string("llama"));
            QVERIFY(!written && fs::exists(fs::path(dir.path().toStdString()) / "tokenizer.gguf"));
            QVERIFY_THROWS_EXCEPTION(InputError, tokenizer::hf_tokenizer_files(*vocab, gguf.string()));
            return;
        }
        QVERIFY(written && same_roles(*written, *model::load_checkpoint(gguf).tokenizer));
        const int checked = expect_reference_ids(*written, reference(n), false);
        qInfo("%s: the tokenizer.json written from the GGUF gives the reference ids (%d strings)", n.c_str(), checked);
    }

    // The same for SmolLM2's GGUF (Digits then GPT-2's split, 49,152 tokens): the written
    // tokenizer.json gives the GGUF tokenizer's ids on 100 KB of WikiText-2 and C4.
    void hfTokenizerFilesOfSmolLM2GiveTheGgufIds() {
        const fs::path gguf = fs::path(SCALEBITS_MODEL_CACHE) / "SmolLM2-135M-Instruct.Q4_1.gguf";
        if (!fs::exists(gguf)) QSKIP("SmolLM2 is not in .cache/models (scripts/setup.sh fetches it)");
        QTemporaryDir dir;
        const auto written = hf_export_tokenizer(gguf, dir.path().toStdString());
        const auto original = model::load_checkpoint(gguf).tokenizer;
        QVERIFY(written && same_roles(*written, *original));
        for (const fs::path& file : {kWiki, kC4}) {
            const std::string text = eval::read_text(file, 50000);
            const auto ids = eval::tokenize_text(*original, text);
            QVERIFY(ids.size() > 5000);
            QVERIFY(eval::tokenize_text(*written, text) == ids);
        }
        QVERIFY(written->encode("<|im_start|>user\n12345 héllo<|im_end|>", false) ==
                original->encode("<|im_start|>user\n12345 héllo<|im_end|>", false));
    }

    // A GGUF states Llama 3 RoPE scaling as per-dimension divisors (rope_freqs), which transformers
    // has no rope_type for; the hf export states llama3 parameters that give the same frequencies.
    // Llama 3.1's own parameters come back exactly from the divisors they make (several dimensions on
    // the ramp); the llama3 fixture's GGUF (none on the ramp) gets parameters with its HF folder's
    // frequencies; a linear scaling stated as divisors (no dimension kept) is still one.
    void llama3ScalingIsRecoveredFromGgufFactors() {
        model::ModelConfig llama31;
        llama31.head_dim = 128;
        llama31.rope_theta = 500000.0;
        llama31.rope_scaling = {model::RopeScaling::Type::Llama3, 8.0, 1.0, 4.0, 8192, {}};
        model::ModelConfig plain = llama31;
        plain.rope_scaling = {};
        model::ModelConfig as_factors = llama31;
        as_factors.rope_scaling = {model::RopeScaling::Type::FreqFactors, 1.0, 1.0, 4.0, 0, {}};
        const auto scaled = model::rope_inverse_frequencies(llama31), unscaled = model::rope_inverse_frequencies(plain);
        for (std::size_t i = 0; i < scaled.size(); ++i)
            as_factors.rope_scaling.freq_factors.push_back(static_cast<float>(unscaled[i] / scaled[i]));
        const auto back = model::llama3_scaling_of_factors(as_factors);
        QVERIFY(back.has_value());
        QCOMPARE(back->factor, 8.0);
        QCOMPARE(back->high_freq_factor, 4.0);
        QCOMPARE(back->original_max_position_embeddings, std::int64_t{8192});

        const model::Checkpoint gguf = model::load_checkpoint(model_path("llama3", true));
        const model::Checkpoint hf = model::load_checkpoint(model_path("llama3", false));
        QVERIFY(gguf.config.rope_scaling.type == model::RopeScaling::Type::FreqFactors);
        const auto stated = model::llama3_scaling_of_factors(gguf.config);
        QVERIFY(stated.has_value());
        model::ModelConfig restated = gguf.config;
        restated.rope_scaling = *stated;
        const auto got = model::rope_inverse_frequencies(restated), want = model::rope_inverse_frequencies(hf.config);
        QCOMPARE(got.size(), want.size());
        for (std::size_t i = 0; i < got.size(); ++i) QVERIFY(std::abs(got[i] / want[i] - 1) < 1e-6);
        const auto j = io::hf_config_to_json(restated);
        QCOMPARE(j.at("rope_scaling").at("rope_type").get<std::string>(), std::string("llama3"));

        model::ModelConfig linear = plain;
        linear.rope_scaling = {model::RopeScaling::Type::FreqFactors, 1.0, 1.0, 4.0, 0,
                               std::vector<float>(static_cast<std::size_t>(plain.head_dim / 2), 4.0f)};
        QVERIFY(model::llama3_scaling_of_factors(linear).has_value());
        linear.rope_scaling.freq_factors[3] = 2.5f;  // not monotone: no llama3 form
        QVERIFY(!model::llama3_scaling_of_factors(linear).has_value());
        QVERIFY(!model::llama3_scaling_of_factors(llama31).has_value());  // already llama3
    }

    void perplexityEqualsTransformers_data() { add_rows(); }
    void perplexityEqualsTransformers() {
        QFETCH(QString, name);
        QFETCH(bool, gguf);
        const std::string n = name.toStdString();
        const json ref = reference(n);
        const bool full = n == "mistral" && gguf;  // the GGUF has no window: transformers without one
        const json& want = ref.at(full ? "eval_full_attention" : "eval");
        const model::Checkpoint ck = model::load_checkpoint(model_path(n, gguf));
        const model::LlamaModel m(ck);
        eval::PerplexityOptions o;
        o.ctx = ref.at("ctx").get<std::int64_t>();
        o.batch = 4;
        const auto r = eval::perplexity(m, ids_of(ref.at("eval_ids")), o);
        QCOMPARE(r.predicted, want.at("predicted").get<std::int64_t>());
        const double ppl = want.at("ppl").get<double>(), rel = std::abs(r.ppl / ppl - 1);
        qInfo("%s %s: ppl %.6f, transformers %.6f (relative difference %.2e, %lld windows of %lld)", qPrintable(name),
              gguf ? "gguf" : "hf", r.ppl, ppl, rel, static_cast<long long>(r.windows), static_cast<long long>(o.ctx));
        QVERIFY2(rel <= 1e-4, qPrintable(QString::number(rel)));
    }

    void greedyIdsEqualTransformers_data() { add_rows(); }
    void greedyIdsEqualTransformers() {
        QFETCH(QString, name);
        QFETCH(bool, gguf);
        const std::string n = name.toStdString();
        const json ref = reference(n);
        const bool full = n == "mistral" && gguf;
        const auto want = ids_of(ref.at(full ? "greedy_ids_full_attention" : "greedy_ids"));
        const model::LlamaModel m(model::load_checkpoint(model_path(n, gguf)));
        QCOMPARE(greedy(m, ids_of(ref.at("prompt_ids")), static_cast<int>(want.size())), want);
    }

    // Every permutation (hidden, ffn, heads, v dims) folded in, biases and head norms included:
    // the same logits as the original model.
    void reorderedModelGivesTheOriginalLogits_data() {
        QTest::addColumn<QString>("name");
        for (const char* n : kNames) QTest::newRow(n) << QString::fromLatin1(n);
    }
    void reorderedModelGivesTheOriginalLogits() {
        QFETCH(QString, name);
        const std::string n = name.toStdString();
        const json ref = reference(n);
        const model::Checkpoint ck = model::load_checkpoint(model_path(n, false));
        model::LlamaModel original(ck), reordered(ck);
        const auto ids = ids_of(ref.at("eval_ids"));
        const auto calib = torch::tensor(std::vector<std::int64_t>(ids.begin(), ids.begin() + 4 * 64)).view({4, 64});
        calib::SensitivityOptions so;
        so.hessian = false;
        const auto sens = calib::compute_sensitivity(reordered, calib, so);
        reorder::ReorderOptions ro;
        ro.heads = ro.v_dims = true;
        const auto perms = reorder::compute_permutations(sens, ck.config, ro);
        QVERIFY(!perms.is_identity());
        reorder::apply_to_model(reordered, perms);
        torch::NoGradGuard no_grad;
        const auto x = torch::tensor(std::vector<std::int64_t>(ids.begin() + 300, ids.begin() + 300 + 64)).view({1, 64});
        const auto a = original.forward(x), b = reordered.forward(x);
        const double scale = a.abs().max().item<double>(), diff = (a - b).abs().max().item<double>();
        qInfo("%s: largest logit difference after reordering %.3g (largest logit %.3g)", qPrintable(name), diff, scale);
        QVERIFY2(diff <= 1e-4 * scale, qPrintable(QString::number(diff / scale)));
    }

    // analyze -> allocate 3.0 bpw -> export -> reload: the export is the same family, runs packed,
    // and its perplexity is the fake-quantized model's.
    void exportReloadsAsTheSameFamily_data() { add_rows(); }
    void exportReloadsAsTheSameFamily() {
        QFETCH(QString, name);
        QFETCH(bool, gguf);
        const std::string n = name.toStdString();
        const json ref = reference(n);
        const std::string tag = n + (gguf ? "-gguf" : "-hf");
        const model::Checkpoint ck = model::load_checkpoint(model_path(n, gguf));
        model::LlamaModel m(ck);
        analysis::AnalysisOptions o;
        o.calib_text = kC4;
        o.samples = 6;
        o.seq_len = 64;
        o.tile_rows = 32;
        o.tile_cols = 32;
        o.group = 32;  // groups of 16 cost 1.2 bits of scales and zeros: 3.0 bpw would be out of reach
        const analysis::Analysis a = analysis::analyze(ck, m, o, dir(tag + ".sba"));
        // The layer-streamed analysis of this family (biases, head norms, windows through the
        // per-layer recompute) gives the same permutations and tables.
        const analysis::Analysis s = analysis::analyze_streamed(ck, o, dir(tag + "-streamed.sba"));
        QVERIFY(s.permutations.hidden == a.permutations.hidden);
        QVERIFY(s.permutations.ffn == a.permutations.ffn);
        double worst = 0;
        for (std::size_t i = 0; i < a.matrices.size(); ++i)
            for (const auto& [x, y] : {std::pair{&s.matrices[i].cost_original, &a.matrices[i].cost_original},
                                       std::pair{&s.matrices[i].cost_reordered, &a.matrices[i].cost_reordered},
                                       std::pair{&s.matrices[i].fisher_reordered, &a.matrices[i].fisher_reordered}}) {
                double diff = 0, scale = 0;  // max |x - y| / max |y|, as rel_diff
                for (std::size_t j = 0; j < y->size(); ++j) {
                    diff = std::max(diff, std::abs((*x)[j] - (*y)[j]));
                    scale = std::max(scale, std::abs((*y)[j]));
                }
                worst = std::max(worst, diff / (scale > 0 ? scale : 1.0));
            }
        qInfo() << n.c_str() << (gguf ? "gguf" : "hf") << "streamed vs in-memory tables, largest relative difference" << worst;
        QVERIFY2(worst <= 1e-5, qPrintable(QString::number(worst)));
        const analysis::Analysis reread = analysis::load_analysis(dir(tag + ".sba"));
        QCOMPARE(model::describe_family(reread.config), model::describe_family(ck.config));
        const auto alloc = analysis::allocate(reread, AllocMethod::ScaleBits, Budget::bits_per_weight(3.0));
        const fs::path out = dir(tag + "-export");
        exporting::export_model(ck, reread, alloc, analysis::Quantizer::Rtn, out);

        const model::Checkpoint packed = model::load_checkpoint(out);
        QCOMPARE(packed.format, std::string("scalebits-export"));
        QCOMPARE(model::describe_family(packed.config), model::describe_family(ck.config));
        QCOMPARE(packed.packed.size(), a.matrices.size());
        const model::LlamaModel pm(packed);
        QVERIFY(!pm.layers()[0].q.weight.defined());

        const model::LlamaModel fp(ck);
        eval::PerplexityOptions po;
        po.ctx = ref.at("ctx").get<std::int64_t>();
        po.max_windows = 12;
        const eval::ReferenceDistributions dist(fp, ids_of(ref.at("eval_ids")), po);
        const auto fake = analysis::evaluate_allocation(ck, reread, alloc, analysis::Quantizer::Rtn, dist);
        const auto loaded = eval::compare_to_reference(pm, dist);
        const double rel = std::abs(loaded.ppl.ppl / fake.ppl.ppl - 1);
        qInfo("%s: 3.0 bpw export (%.3f bits/weight), packed ppl %.5f, fake-quantized %.5f (relative %.2e), "
              "full precision %.5f", tag.c_str(), alloc.avg_bits, loaded.ppl.ppl, fake.ppl.ppl, rel, dist.baseline().ppl);
        QVERIFY2(rel <= 1e-3, qPrintable(QString::number(rel)));
    }

    // Broken family fields end with exit 2 and a message naming the file and the field.
    void brokenFieldsAreRefusedByName_data() {
        QTest::addColumn<QString>("fixture");
        QTest::addColumn<QString>("edit");   // a JSON merge patch for config.json (null deletes a key)
        QTest::addColumn<QString>("needle");
        QTest::newRow("rope factor missing") << "llama3"
                                             << R"({"rope_parameters": {"factor": null}})"
                                             << "rope_parameters.factor";
        QTest::newRow("rope factor negative") << "llama-linear" << R"({"rope_parameters": {"rope_type": "linear", "factor": -2.0}})"
                                              << "rope_parameters.factor";
        QTest::newRow("rope type unknown") << "llama3" << R"({"rope_parameters": {"rope_type": "yarn", "factor": 4.0}})"
                                           << "rope_parameters.rope_type";
        QTest::newRow("old rope_scaling form") << "llama-linear"
                                               << R"({"rope_parameters": null, "rope_scaling": {"type": "dynamic", "factor": 2.0}})"
                                               << "rope_scaling.rope_type";
        QTest::newRow("head_dim does not divide") << "qwen2" << R"({"num_attention_heads": 3, "num_key_value_heads": 3})"
                                                  << "num_attention_heads";
        QTest::newRow("sliding_window 0") << "mistral" << R"({"sliding_window": 0})" << "sliding_window";
        QTest::newRow("mixed sliding layers") << "qwen3" << R"({"layer_types": ["full_attention", "sliding_attention"], "sliding_window": 8})"
                                              << "layer_types";
        QTest::newRow("moe") << "qwen2" << R"({"architectures": ["Qwen2MoeForCausalLM"]})" << "Qwen2MoeForCausalLM";
        QTest::newRow("activation") << "mistral" << R"({"hidden_act": "gelu"})" << "hidden_act";
        QTest::newRow("bias config without bias tensors") << "llama3" << R"({"attention_bias": true})" << "_proj.bias";
    }
    void brokenFieldsAreRefusedByName() {
        QFETCH(QString, fixture);
        QFETCH(QString, edit);
        QFETCH(QString, needle);
        const fs::path folder = dir("broken-" + std::to_string(qHash(QString::fromLatin1(QTest::currentDataTag()))));
        fs::remove_all(folder);
        copy_folder(kFamilies / fixture.toStdString(), folder);
        json config;
        {
            std::ifstream in(folder / "config.json");
            config = json::parse(in);
        }
        config.merge_patch(json::parse(edit.toStdString()));
        std::ofstream(folder / "config.json") << config.dump(1);
        const Run r = cli({QStringLiteral("info"), QStringLiteral("--model"), QString::fromStdString(folder.string())});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains(QByteArray::fromStdString(folder.filename().string())), r.err.constData());
        QVERIFY2(r.err.contains(needle.toUtf8()), r.err.constData());
    }

    // A bias tensor of the wrong shape: named with the shape the config implies.
    void wrongBiasShapeIsRefused() {
        const fs::path folder = dir("bad-bias");
        copy_folder(kFamilies / "qwen2", folder);
        const io::SafetensorsFile f = io::read_safetensors(folder / "model.safetensors");
        io::SafetensorsWriter w;
        std::vector<std::shared_ptr<std::vector<std::uint8_t>>> keep;
        for (const auto& t : f.tensors) {
            auto bytes = std::make_shared<std::vector<std::uint8_t>>(t.bytes.begin(), t.bytes.end());
            std::vector<std::int64_t> shape = t.shape;
            if (t.name == "model.layers.1.self_attn.k_proj.bias") {
                bytes->resize(bytes->size() / 2);
                shape[0] /= 2;
            }
            w.add(t.name, io::dtype_name(t.dtype), shape, *bytes, bytes);
            keep.push_back(bytes);
        }
        w.write(folder / "model.safetensors");
        const Run r = cli({QStringLiteral("info"), QStringLiteral("--model"), QString::fromStdString(folder.string())});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("model.layers.1.self_attn.k_proj.bias") && r.err.contains("shape"), r.err.constData());
    }
};

QTEST_GUILESS_MAIN(TestFamilies)
#include "tst_families.moc"
