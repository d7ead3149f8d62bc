// config.json to ModelConfig: defaults, architecture gate, and an error naming file and field for
// every missing, mistyped or non-positive value.
#include <QtTest>

#include "core/io/hf_config.h"
#include "core/util/error.h"

using namespace scalebits;
using nlohmann::json;

namespace {

json smollm() {
    return json::parse(R"({"architectures":["LlamaForCausalLM"],"hidden_size":576,"intermediate_size":1536,
        "num_hidden_layers":30,"num_attention_heads":9,"num_key_value_heads":3,"rms_norm_eps":1e-05,
        "rope_theta":100000,"vocab_size":49152,"tie_word_embeddings":true,"max_position_embeddings":8192,
        "hidden_act":"silu","rope_scaling":null,"torch_dtype":"bfloat16"})");
}

}  // namespace

class TestHfConfig : public QObject {
    Q_OBJECT

private slots:
    void smolLM2() {
        const auto c = io::hf_config_from_json(smollm(), "config.json");
        QCOMPARE(c.dim, std::int64_t(576));
        QCOMPARE(c.head_dim, std::int64_t(64));
        QCOMPARE(c.n_kv_heads, std::int64_t(3));
        QCOMPARE(c.rope_theta, 100000.0);
        QCOMPARE(c.max_seq_len, std::int64_t(8192));
        QVERIFY(c.tie_word_embeddings);
    }

    void defaults() {
        json j = smollm();
        for (const char* k : {"num_key_value_heads", "rope_theta", "tie_word_embeddings", "max_position_embeddings"})
            j.erase(k);
        j["architectures"] = {"MistralForCausalLM"};
        j["head_dim"] = 32;
        const auto c = io::hf_config_from_json(j, "config.json");
        QCOMPARE(c.n_kv_heads, std::int64_t(9));
        QCOMPARE(c.rope_theta, 10000.0);
        QVERIFY(!c.tie_word_embeddings);
        QCOMPARE(c.head_dim, std::int64_t(32));
        QCOMPARE(c.max_seq_len, std::int64_t(2048));
    }

    void errors_data() {
        QTest::addColumn<QString>("patch");  // a JSON merge patch (null deletes a key)
        QTest::addColumn<QString>("needle");
        QTest::newRow("missing hidden_size") << R"({"hidden_size":null})" << "missing field 'hidden_size'";
        QTest::newRow("string layers") << R"({"num_hidden_layers":"30"})" << "'num_hidden_layers' is not an integer";
        QTest::newRow("negative heads") << R"({"num_attention_heads":-9})" << "'num_attention_heads' must be positive";
        QTest::newRow("float vocab") << R"({"vocab_size":49152.5})" << "'vocab_size' is not an integer";
        QTest::newRow("zero eps") << R"({"rms_norm_eps":0})" << "'rms_norm_eps' must be positive";
        QTest::newRow("tie as string") << R"({"tie_word_embeddings":"yes"})" << "'tie_word_embeddings' is not true/false";
        QTest::newRow("qwen") << R"({"architectures":["Qwen2ForCausalLM"]})" << "unsupported architecture Qwen2ForCausalLM";
        QTest::newRow("no arch") << R"({"architectures":null})" << "missing field 'architectures'";
        QTest::newRow("rope scaling") << R"({"rope_scaling":{"type":"linear","factor":2}})" << "rope_scaling";
        QTest::newRow("bias") << R"({"attention_bias":true})" << "attention_bias";
        QTest::newRow("gelu") << R"({"hidden_act":"gelu"})" << "hidden_act";
        QTest::newRow("kv not dividing") << R"({"num_key_value_heads":4})" << "not a multiple";
        QTest::newRow("heads not dividing dim") << R"({"num_attention_heads":7})" << "no head_dim";
    }

    void errors() {
        QFETCH(QString, patch);
        QFETCH(QString, needle);
        json j = smollm();
        j.merge_patch(json::parse(patch.toStdString()));
        try {
            io::hf_config_from_json(j, "/m/config.json");
            QFAIL("accepted a broken config");
        } catch (const InputError& e) {
            const std::string msg = e.what();
            QVERIFY2(msg.find("/m/config.json") != std::string::npos, msg.c_str());
            QVERIFY2(msg.find(needle.toStdString()) != std::string::npos, msg.c_str());
        }
    }

    void notAnObject() { QVERIFY_THROWS_EXCEPTION(InputError, io::hf_config_from_json(json::array(), "c.json")); }
};

QTEST_GUILESS_MAIN(TestHfConfig)
#include "tst_hf_config.moc"
