// The analysis file's own description (the JSON in its metadata) against hostile values: every
// case must be refused with a FormatError naming the file and the field, before anything is sized
// from it (a layer count of 10^12 used to loop for ever, a 2^62 x 2^62 grid overflowed int64). The
// container itself (safetensors, checksums) has its own tests; the fuzz seed must load.
#include <QtTest>

#include <functional>

#include <nlohmann/json.hpp>

#include "core/analysis/analysis_file.h"
#include "core/io/safetensors.h"
#include "core/io/safetensors_writer.h"
#include "core/util/error.h"

using namespace scalebits;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A tiny Llama: dim 16, ffn 24, one layer, two query heads sharing one KV head of 8.
model::ModelConfig tiny_config() {
    model::ModelConfig c;
    c.dim = 16;
    c.hidden_dim = 24;
    c.n_layers = 1;
    c.n_heads = 2;
    c.n_kv_heads = 1;
    c.head_dim = 8;
    c.vocab_size = 32;
    c.max_seq_len = 64;
    return c;
}

std::vector<std::int64_t> reversed(std::int64_t n) {
    std::vector<std::int64_t> p(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) p[static_cast<std::size_t>(i)] = n - 1 - i;
    return p;
}

analysis::Analysis tiny_analysis() {
    analysis::Analysis a;
    a.model_path = "tiny.gguf";
    a.fingerprint = {1234, 0xdeadbeef};
    a.config = tiny_config();
    a.options.tile_rows = a.options.tile_cols = 16;
    a.options.group = 8;
    a.options.widths = {2, 4};
    a.widths = {2, 4};
    const char* names[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                           "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
    const std::int64_t shapes[][2] = {{16, 16}, {8, 16}, {8, 16}, {16, 16}, {24, 16}, {24, 16}, {16, 24}};
    for (int kind = 0; kind < 7; ++kind) {
        analysis::MatrixAnalysis m;
        m.name = std::string("model.layers.0.") + names[kind] + ".weight";
        m.kind = kind;
        m.grid = kernels::TileGrid::of(shapes[kind][0], shapes[kind][1], 16, 16, 8);
        for (std::int64_t t = 0; t < m.tile_count(); ++t) {
            m.cost_original.insert(m.cost_original.end(), {1.0 + t, 0.5 + t});
            m.fisher_original.push_back(2.0 + t);
        }
        m.cost_reordered = m.cost_original;
        m.fisher_reordered = m.fisher_original;
        a.matrices.push_back(m);
    }
    a.permutations.hidden = reversed(16);
    a.permutations.ffn = {reversed(24)};
    a.permutations.heads = {reversed(1)};
    a.permutations.v_dims = {reversed(8)};
    return a;
}

}  // namespace

class TestAnalysisFile : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    fs::path valid_;
    fs::path path(const std::string& name) const { return fs::path(tmp_.path().toStdString()) / name; }

    // A copy of the valid file whose description went through `edit`, tensors and checksums kept.
    fs::path edited(const std::string& name, const std::function<void(json&)>& edit) {
        json meta = json::parse(io::read_safetensors(valid_).metadata.at("scalebits.analysis"));
        edit(meta);
        return with_description(name, meta.dump());
    }
    // A copy of the valid file whose description is `text`.
    fs::path with_description(const std::string& name, const std::string& text) {
        const io::SafetensorsFile f = io::read_safetensors(valid_);
        io::SafetensorsWriter w;
        for (const auto& t : f.tensors) {
            static const char* names[] = {"F32", "F64", "I64"};
            const char* dtype = t.dtype == io::DType::F32 ? names[0] : t.dtype == io::DType::F64 ? names[1] : names[2];
            w.add(t.name, dtype, t.shape, t.bytes, t.owner);
        }
        w.set_metadata("scalebits.analysis", text);
        w.add_checksums("scalebits.checksums");
        const fs::path out = path(name + ".sba");
        w.write(out);
        return out;
    }

    void expect_refused(const std::string& name, const std::function<void(json&)>& edit, const std::string& needle) {
        expect_refused_file(edited(name, edit), needle);
    }
    void expect_refused_file(const fs::path& p, const std::string& needle) {
        const std::string name = p.filename().string();
        try {
            (void)analysis::load_analysis(p);
            QFAIL(("accepted " + name + ", expected: " + needle).c_str());
        } catch (const FormatError& e) {
            const std::string msg = e.what();
            QVERIFY2(msg.find(p.filename().string()) != std::string::npos, msg.c_str());
            QVERIFY2(msg.find(needle) != std::string::npos, (msg + "  (expected: " + needle + ")").c_str());
        } catch (const InputError& e) {  // the config's own checks name the file too
            const std::string msg = e.what();
            QVERIFY2(msg.find(p.filename().string()) != std::string::npos, msg.c_str());
            QVERIFY2(msg.find(needle) != std::string::npos, (msg + "  (expected: " + needle + ")").c_str());
        }
    }

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        valid_ = path("valid.sba");
        analysis::save_analysis(tiny_analysis(), valid_);
    }

    void validFileRoundTrips() {
        const analysis::Analysis a = analysis::load_analysis(valid_);
        const analysis::Analysis want = tiny_analysis();
        QCOMPARE(a.matrices.size(), want.matrices.size());
        QCOMPARE(a.total_tiles(), want.total_tiles());
        QCOMPARE(a.matrices[6].cost_reordered, want.matrices[6].cost_reordered);
        QCOMPARE(a.permutations.v_dims, want.permutations.v_dims);
        QCOMPARE(a.widths, want.widths);
        // The unedited copy the cases start from loads too.
        QCOMPARE(analysis::load_analysis(edited("unchanged", [](json&) {})).matrices.size(), std::size_t(7));
    }

    void fuzzSeedLoads() {
        const analysis::Analysis a =
            analysis::load_analysis(fs::path(SCALEBITS_SOURCE_DIR) / "fuzz/seeds/fuzz_analysis/tiny.sba");
        QCOMPARE(a.matrices.size(), std::size_t(7));
    }

    void hostileDescriptionsAreRefused_data() {
        QTest::addColumn<QString>("field");
        QTest::addColumn<QString>("value");
        QTest::addColumn<QString>("needle");
        auto row = [](const char* name, const char* field, const char* value, const char* needle) {
            QTest::newRow(name) << field << value << needle;
        };
        row("layer count 10^12", "/layers", "1000000000000", "permutations for 1000000000000 layers");
        row("negative layer count", "/layers", "-1", "permutations for -1 layers");
        row("rows 2^63-1", "/matrices/0/rows", "9223372036854775807", "the model's config makes it 16 x 16");
        row("grid 2^62 x 2^62", "/matrices/0/grid_rows", "4611686018427387904", "inconsistent tile grid");
        row("tile rows 0", "/matrices/1/tile_rows", "0", "inconsistent tile grid");
        row("tile rows 2^63-1", "/matrices/1/tile_rows", "9223372036854775807", "inconsistent tile grid");
        row("group not dividing the tile", "/matrices/1/group", "6", "inconsistent tile grid");
        row("widths not a list", "/widths", "4", "field 'widths' is not a list");
        row("format version 2^32 + 1", "/format_version", "4294967297", "field 'format_version' is out of range");
        row("group wider than a tile", "/matrices/1/group", "32", "inconsistent tile grid");
        row("unknown kind", "/matrices/2/kind", "9", "unknown kind 9");
        row("layer out of range", "/matrices/2/layer", "5", "names layer 5 of a model with 1 layers");
        row("duplicate matrix", "/matrices/1/name", "\"model.layers.0.self_attn.q_proj.weight\"", "described twice");
        row("width 9", "/widths", "[2, 9]", "not ascending values in 2..8");
        row("widths descending", "/widths", "[4, 2]", "not ascending values in 2..8");
        row("no widths", "/widths", "[]", "no candidate widths");
        row("head_dim 2^40", "/config/head_dim", "1099511627776", "implausibly large");
        row("zero layers in config", "/config/num_hidden_layers", "0", "num_hidden_layers");
        row("kv heads not dividing heads", "/config/num_key_value_heads", "3", "not a multiple");
        row("format version 5", "/format_version", "5", "format version 5 is not supported");
        row("not an analysis", "/format", "\"something\"", "not a ScaleBITS analysis file");
        row("layers as a string", "/layers", "\"one\"", "field 'layers' is not an integer");
        row("rows 1e308", "/matrices/3/rows", "1e308", "field 'rows' is not an integer");
        row("width 2.5", "/widths", "[2.5, 4]", "an entry of 'widths' is not an integer");
        row("kind 2^40", "/matrices/3/kind", "1099511627776", "a matrix's kind is out of range");
        row("hash not hexadecimal", "/fingerprint/hash", "\"xyz\"", "malformed hexadecimal");
        row("config of another model", "/config/intermediate_size", "32", "the model's config makes it 32 x 16");
    }
    void hostileDescriptionsAreRefused() {
        QFETCH(QString, field);
        QFETCH(QString, value);
        QFETCH(QString, needle);
        const json v = json::parse(value.toStdString());
        expect_refused(QTest::currentDataTag(), [&](json& m) { m[json::json_pointer(field.toStdString())] = v; },
                       needle.toStdString());
    }

    void descriptionsThatAreNotAnObjectAreRefused() {
        expect_refused_file(with_description("array", "[1, 2]"), "malformed analysis description");
        expect_refused_file(with_description("not json", "{\"format\": "), "malformed analysis description");
    }

    void tablesThatDoNotMatchTheirGridAreRefused() {
        // Two tiles' worth of table for a matrix whose record now says three (8-row tiles).
        expect_refused("table short", [](json& m) {
            m["matrices"][4]["tile_rows"] = 8;
            m["matrices"][4]["grid_rows"] = 3;
        }, "do not match its tile grid");
    }

    void brokenPermutationsNameTheFile() {
        // One layer's permutations listed while the description says there are none.
        expect_refused("perm layers", [](json& m) { m["config"]["num_hidden_layers"] = 2; }, "permutations for 1 layers");
    }
};

QTEST_APPLESS_MAIN(TestAnalysisFile)
#include "tst_analysis_file.moc"
