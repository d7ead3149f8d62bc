// load_checkpoint: format detection (GGUF, llama2.c, safetensors file or folder), the shape check
// against the config, and the refusal of pickle checkpoints. It lives with the core tests because
// load_checkpoint is part of scalebits_core.
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

#include "core/model/checkpoint.h"
#include "core/model/llama.h"
#include "core/util/error.h"

// Qt after LibTorch: Qt's `slots` macro would break torch headers that name a method slots().
#include <QtTest>

#include "../io/gguf_writer.h"
#include "../io/safetensors_fixture.h"

using namespace scalebits;
using namespace scalebits::testing;
namespace fs = std::filesystem;

namespace {

const fs::path kStories = fs::path(SCALEBITS_SHARED_DATA) / "stories260K" / "stories260K.bin";
const fs::path kSmol = fs::path(SCALEBITS_MODEL_CACHE) / "SmolLM2-135M-Instruct.Q4_1.gguf";

// A 1-layer Llama in safetensors: dim 8, 2 heads of 4, 1 KV head, ffn 16, vocab 10, tied.
nlohmann::json tiny_config() {
    return {{"architectures", {"LlamaForCausalLM"}}, {"hidden_size", 8}, {"intermediate_size", 16},
            {"num_hidden_layers", 1}, {"num_attention_heads", 2}, {"num_key_value_heads", 1}, {"vocab_size", 10},
            {"rms_norm_eps", 1e-5}, {"tie_word_embeddings", true}, {"max_position_embeddings", 64}};
}

std::vector<StTensor> tiny_tensors() {
    auto t = [](const std::string& name, std::vector<std::int64_t> shape) {
        std::int64_t n = 1;
        for (auto d : shape) n *= d;
        return f32_tensor(name, shape, std::vector<float>(static_cast<std::size_t>(n), 0.5f));
    };
    const std::string p = "model.layers.0.";
    return {t("model.embed_tokens.weight", {10, 8}), t("model.norm.weight", {8}),
            t(p + "self_attn.q_proj.weight", {8, 8}), t(p + "self_attn.k_proj.weight", {4, 8}),
            t(p + "self_attn.v_proj.weight", {4, 8}), t(p + "self_attn.o_proj.weight", {8, 8}),
            t(p + "mlp.gate_proj.weight", {16, 8}), t(p + "mlp.up_proj.weight", {16, 8}),
            t(p + "mlp.down_proj.weight", {8, 16}), t(p + "input_layernorm.weight", {8}),
            t(p + "post_attention_layernorm.weight", {8})};
}

}  // namespace

class TestCheckpoint : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    fs::path dir() const { return fs::path(tmp_.path().toStdString()); }

    fs::path write_model(const std::string& name, const nlohmann::json& config, const std::vector<StTensor>& tensors) {
        const fs::path m = dir() / name;
        fs::create_directories(m);
        write_text(m / "config.json", config.dump());
        write_file(m / "model.safetensors", safetensors_bytes(tensors));
        return m;
    }

    void expect_error(const fs::path& p, const std::string& needle) {
        try {
            model::load_checkpoint(p);
            QFAIL(("loaded a broken checkpoint, expected: " + needle).c_str());
        } catch (const InputError& e) {
            QVERIFY2(std::string(e.what()).find(needle) != std::string::npos, e.what());
        }
    }

private slots:
    void initTestCase() { QVERIFY(tmp_.isValid()); }

    void safetensorsFolderAndFile() {
        const fs::path m = write_model("tiny", tiny_config(), tiny_tensors());
        const model::Checkpoint ck = model::load_checkpoint(m);
        QCOMPARE(ck.format, std::string("safetensors"));
        QCOMPARE(ck.config.head_dim, std::int64_t(4));
        QCOMPARE(ck.tensors.size(), std::size_t(11));
        QCOMPARE(ck.tensor("model.norm.weight").to_float(), std::vector<float>(8, 0.5f));
        QVERIFY_THROWS_EXCEPTION(InputError, ck.tensor("nope"));
        QVERIFY(!ck.tokenizer);  // no tokenizer.json in the folder
        // The .safetensors file itself also works (config.json beside it).
        QCOMPARE(model::load_checkpoint(m / "model.safetensors").tensors.size(), std::size_t(11));
    }

    void tiedCopyAndInvFreqDropped() {
        auto tensors = tiny_tensors();
        tensors.push_back(f32_tensor("lm_head.weight", {10, 8}, std::vector<float>(80, 0.5f)));
        tensors.push_back(f32_tensor("model.layers.0.self_attn.rotary_emb.inv_freq", {2}, {1, 2}));
        const model::Checkpoint ck = model::load_checkpoint(write_model("tiedcopy", tiny_config(), tensors));
        QVERIFY(!ck.has("lm_head.weight"));
        QCOMPARE(ck.tensors.size(), std::size_t(11));
    }

    void shapeChecks() {
        {
            auto tensors = tiny_tensors();
            tensors.erase(tensors.begin() + 4);  // v_proj
            expect_error(write_model("missing", tiny_config(), tensors), "missing tensor 'model.layers.0.self_attn.v_proj.weight'");
        }
        {
            auto tensors = tiny_tensors();
            tensors[3] = f32_tensor("model.layers.0.self_attn.k_proj.weight", {8, 8}, std::vector<float>(64, 0));
            expect_error(write_model("wrongshape", tiny_config(), tensors),
                         "'model.layers.0.self_attn.k_proj.weight' has shape [8, 8], the config implies [4, 8]");
        }
        {
            auto tensors = tiny_tensors();
            tensors.push_back(f32_tensor("model.layers.0.self_attn.q_proj.bias", {8}, std::vector<float>(8, 0)));
            expect_error(write_model("extra", tiny_config(), tensors), "unexpected tensor 'model.layers.0.self_attn.q_proj.bias'");
        }
        {
            auto cfg = tiny_config();
            cfg["tie_word_embeddings"] = false;
            expect_error(write_model("untied", cfg, tiny_tensors()), "missing tensor 'lm_head.weight'");
        }
        {
            auto tensors = tiny_tensors();
            tensors[1] = StTensor{"model.norm.weight", "I32", {8}, Bytes(32, 0)};
            expect_error(write_model("intnorm", tiny_config(), tensors), "is stored as I32");
        }
    }

    void configErrors() {
        auto cfg = tiny_config();
        cfg.erase("hidden_size");
        const fs::path m = write_model("nodim", cfg, tiny_tensors());
        expect_error(m, "field 'hidden_size' is missing");
        expect_error(m, (m / "config.json").string());
        const fs::path alone = dir() / "alone";
        fs::create_directories(alone);
        write_file(alone / "w.safetensors", safetensors_bytes(tiny_tensors()));
        expect_error(alone / "w.safetensors", "without a config.json");
    }

    // NaN or inf in a weight is reported with the tensor's name before any work starts.
    void nonFiniteWeightsAreNamed_data() {
        QTest::addColumn<float>("bad");
        QTest::newRow("nan") << std::numeric_limits<float>::quiet_NaN();
        QTest::newRow("inf") << std::numeric_limits<float>::infinity();
    }
    void nonFiniteWeightsAreNamed() {
        QFETCH(float, bad);
        auto tensors = tiny_tensors();
        std::vector<float> v(32, 0.5f);
        v[17] = bad;
        tensors[4] = f32_tensor("model.layers.0.self_attn.v_proj.weight", {4, 8}, v);
        const fs::path m = write_model(std::isnan(bad) ? "nan" : "inf", tiny_config(), tensors);
        try {
            model::LlamaModel model(model::load_checkpoint(m));
            QFAIL("a model with a non-finite weight loaded");
        } catch (const InputError& e) {
            const std::string msg = e.what();
            QVERIFY2(msg.find("model.layers.0.self_attn.v_proj.weight") != std::string::npos &&
                         msg.find("NaN or infinite") != std::string::npos,
                     msg.c_str());
        }
    }

    // config.json: invalid UTF-8 and a key given twice are refused, naming the file.
    void configJsonIsStrict() {
        const fs::path m = write_model("strict", tiny_config(), tiny_tensors());
        auto text = tiny_config().dump();
        write_text(m / "config.json", text.substr(0, text.size() - 1) + ",\"hidden_size\":8}");
        expect_error(m, "duplicate");
        expect_error(m, (m / "config.json").string());
        write_text(m / "config.json", "{\"architectures\": [\"Llama\xC3\x28\"]}");
        expect_error(m, (m / "config.json").string());
        write_text(m / "config.json", "[1, 2]");
        expect_error(m, (m / "config.json").string());
    }

    void refusesPickle() {
        const fs::path legacy = dir() / "pytorch_model.bin";
        write_file(legacy, Bytes{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20});
        expect_error(legacy, "pickle");
        expect_error(legacy, "safetensors");
        const fs::path zip = dir() / "model.pt";
        write_file(zip, Bytes{'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0});
        expect_error(zip, "model.pt");
        expect_error(zip, "Convert it to safetensors");
        const fs::path folder = dir() / "hf_pickle";
        fs::create_directories(folder);
        write_text(folder / "config.json", tiny_config().dump());
        write_file(folder / "pytorch_model.bin", Bytes{0x80, 0x04, 0x95, 0, 0, 0, 0, 0});
        expect_error(folder, "pytorch_model.bin");
    }

    void unknownFormats() {
        const fs::path junk = dir() / "junk.bin";
        write_file(junk, Bytes(100, 7));
        expect_error(junk, "neither a llama2.c checkpoint");
        const fs::path txt = dir() / "notes.txt";
        write_text(txt, "hello");
        expect_error(txt, "unrecognized checkpoint format");
        expect_error(dir() / "does-not-exist", "no such file");
        const fs::path empty = dir() / "emptydir";
        fs::create_directories(empty);
        expect_error(empty, "no model.safetensors");
    }

    void tinyGguf() {
        const fs::path p = dir() / "tiny.gguf";
        write_file(p, tiny_llama().bytes());
        const model::Checkpoint ck = model::load_checkpoint(p);
        QCOMPARE(ck.format, std::string("gguf"));
        QCOMPARE(ck.config.vocab_size, std::int64_t(16));
        QCOMPARE(ck.tensors.size(), std::size_t(11));
        QVERIFY(ck.tokenizer);
        // A vocabulary larger than the embedding would index past it.
        write_file(p, tiny_llama(20).bytes());
        expect_error(p, "tokenizer has 20 tokens but the model's vocabulary is 16");
    }

    void stories260K() {
        if (!fs::exists(kStories)) QSKIP("shared data not present");
        const model::Checkpoint ck = model::load_checkpoint(kStories);
        QCOMPARE(ck.format, std::string("llama2c"));
        QCOMPARE(ck.config.dim, std::int64_t(64));
        QCOMPARE(ck.config.n_kv_heads, std::int64_t(4));
        QVERIFY(ck.config.tie_word_embeddings);
        QVERIFY(ck.tokenizer);  // tok512.bin beside the model
        QCOMPARE(ck.tokenizer->vocab_size(), 512);
        // An explicit tokenizer path wins over the one found beside the model.
        const fs::path copy = dir() / "my_tokenizer.bin";
        fs::copy_file(kStories.parent_path() / "tok512.bin", copy, fs::copy_options::overwrite_existing);
        QCOMPARE(model::load_checkpoint(kStories, copy).tokenizer->vocab_size(), 512);
        try {
            model::load_checkpoint(kStories, dir() / "absent.bin");
            QFAIL("loaded with a missing tokenizer");
        } catch (const InputError& e) {
            QVERIFY2(std::string(e.what()).find("absent.bin") != std::string::npos, e.what());
        }
    }

    void smolLM2() {
        if (!fs::exists(kSmol)) QSKIP("SmolLM2 GGUF not downloaded (run setup)");
        const model::Checkpoint ck = model::load_checkpoint(kSmol);
        QCOMPARE(ck.format, std::string("gguf"));
        QCOMPARE(ck.config.n_layers, std::int64_t(30));
        QCOMPARE(ck.tensors.size(), std::size_t(2 + 30 * 9));
        QVERIFY(ck.tokenizer);
        QCOMPARE(ck.tokenizer->vocab_size(), 49152);
        const auto ids = ck.tokenizer->encode("Hello world", false);
        QVERIFY(!ids.empty());
        QCOMPARE(ck.tokenizer->decode(ids), std::string("Hello world"));
    }
};

QTEST_GUILESS_MAIN(TestCheckpoint)
#include "tst_checkpoint.moc"
