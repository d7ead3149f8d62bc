// config.json to ModelConfig: defaults, architecture gate, and an error naming file and field for
// every missing, mistyped or non-positive value.
#include <QtTest>

#include <cmath>

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
        QTest::newRow("missing hidden_size") << R"({"hidden_size":null})" << "field 'hidden_size' is missing";
        QTest::newRow("string layers") << R"({"num_hidden_layers":"30"})" << "'num_hidden_layers' is not an integer";
        QTest::newRow("negative heads") << R"({"num_attention_heads":-9})" << "'num_attention_heads' must be positive";
        QTest::newRow("float vocab") << R"({"vocab_size":49152.5})" << "'vocab_size' is not an integer";
        QTest::newRow("zero eps") << R"({"rms_norm_eps":0})" << "'rms_norm_eps' must be positive";
        QTest::newRow("tie as string") << R"({"tie_word_embeddings":"yes"})" << "'tie_word_embeddings' is not true/false";
        QTest::newRow("moe") << R"({"architectures":["MixtralForCausalLM"]})" << "unsupported architecture MixtralForCausalLM";
        QTest::newRow("no arch") << R"({"architectures":null})" << "missing field 'architectures'";
        QTest::newRow("rope scaling yarn") << R"({"rope_scaling":{"type":"yarn","factor":2}})" << "rope_scaling.rope_type";
        QTest::newRow("rope factor missing") << R"({"rope_scaling":{"rope_type":"linear"}})" << "'rope_scaling.factor' is missing";
        QTest::newRow("rope factor negative") << R"({"rope_scaling":{"rope_type":"linear","factor":-1}})" << "'rope_scaling.factor' must be positive";
        QTest::newRow("llama3 without its parameters") << R"({"rope_scaling":{"rope_type":"llama3","factor":8}})" << "rope_scaling.low_freq_factor";
        QTest::newRow("partial rotary") << R"({"rope_parameters":{"rope_type":"default","partial_rotary_factor":0.5}})" << "partial_rotary_factor";
        QTest::newRow("mistral window 0") << R"({"architectures":["MistralForCausalLM"],"sliding_window":0})" << "'sliding_window' must be positive";
        QTest::newRow("llama window") << R"({"sliding_window":4096})" << "sliding_window";
        QTest::newRow("qwen mixed windows") << R"({"architectures":["Qwen2ForCausalLM"],"use_sliding_window":true,"max_window_layers":1,"sliding_window":64})" << "layer_types";
        QTest::newRow("experts") << R"({"num_local_experts":8})" << "num_local_experts";
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

    // Each family's switches, read from the forms configs carry (transformers 5's rope_parameters and
    // the older rope_theta + rope_scaling), and written back so that an export reloads as the same.
    void familiesRoundTrip_data() {
        QTest::addColumn<QString>("patch");
        QTest::addColumn<QString>("description");
        QTest::newRow("llama3 rope_parameters")
            << R"({"rope_theta":null,"rope_parameters":{"rope_type":"llama3","rope_theta":500000.0,"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}})"
            << "llama (llama3 RoPE scaling x8)";
        QTest::newRow("linear rope_scaling, old key") << R"({"rope_scaling":{"type":"linear","factor":2.0}})" << "llama (linear RoPE scaling x2)";
        QTest::newRow("llama attention and mlp bias") << R"({"attention_bias":true,"mlp_bias":true})"
                                                      << "llama (biases on q, k, v, o, gate, up, down)";
        QTest::newRow("qwen2") << R"({"architectures":["Qwen2ForCausalLM"],"use_sliding_window":false,"sliding_window":4096})"
                               << "qwen2 (biases on q, k, v)";
        QTest::newRow("qwen2 all layers sliding") << R"({"architectures":["Qwen2ForCausalLM"],"use_sliding_window":true,"max_window_layers":0,"sliding_window":64})"
                                                  << "qwen2 (biases on q, k, v, sliding window 64)";
        QTest::newRow("qwen3") << R"({"architectures":["Qwen3ForCausalLM"],"head_dim":128,"layer_types":null})" << "qwen3 (q/k head norms)";
        QTest::newRow("qwen3 attention bias") << R"({"architectures":["Qwen3ForCausalLM"],"attention_bias":true})"
                                              << "qwen3 (biases on q, k, v, o, q/k head norms)";
        QTest::newRow("mistral window") << R"({"architectures":["MistralForCausalLM"],"sliding_window":4096})"
                                        << "mistral (sliding window 4096)";
        QTest::newRow("mistral without window") << R"({"architectures":["MistralForCausalLM"],"sliding_window":"null"})" << "mistral";
        QTest::newRow("mistral, window absent: MistralConfig's default") << R"({"architectures":["MistralForCausalLM"]})"
                                                                       << "mistral (sliding window 4096)";
    }
    void familiesRoundTrip() {
        QFETCH(QString, patch);
        QFETCH(QString, description);
        json j = smollm();
        j.merge_patch(json::parse(patch.toStdString()));
        // A merge patch deletes a key with null; "null" stands for a key that is present and null.
        for (auto& [k, v] : j.items())
            if (v == "null") v = nullptr;
        const auto c = io::hf_config_from_json(j, "config.json");
        QCOMPARE(QString::fromStdString(model::describe_family(c)), description);
        const auto back = io::hf_config_from_json(json(io::hf_config_to_json(c)), "config.json");
        QCOMPARE(QString::fromStdString(model::describe_family(back)), description);
        QCOMPARE(back.rope_scaling, c.rope_scaling);
        QCOMPARE(back.linear_bias, c.linear_bias);
        QCOMPARE(back.sliding_window, c.sliding_window);
        QCOMPARE(back.head_dim, c.head_dim);
        QCOMPARE(back.rope_theta, c.rope_theta);
    }

    // Llama 3's scaled frequencies against values computed independently (transformers' formula,
    // evaluated with Python floats for head_dim 128, theta 500000, factor 8, low 1, high 4, 8192).
    void llama3Frequencies() {
        model::ModelConfig c;
        c.head_dim = 128;
        c.rope_theta = 500000.0;
        c.rope_scaling.type = model::RopeScaling::Type::Llama3;
        c.rope_scaling.factor = 8.0;
        c.rope_scaling.low_freq_factor = 1.0;
        c.rope_scaling.high_freq_factor = 4.0;
        c.rope_scaling.original_max_position_embeddings = 8192;
        const auto f = model::rope_inverse_frequencies(c);
        QCOMPARE(f.size(), std::size_t(64));
        QCOMPARE(f[0], 1.0);  // short wavelengths are kept
        QVERIFY(std::abs(f[63] - std::pow(500000.0, -126.0 / 128.0) / 8.0) < 1e-15);  // long ones divided by 8
        // Index 32 lies on the ramp: wavelen = 2 pi / theta^(-64/128) = 4,443 (between 8192/4 and 8192);
        // smooth = (8192 / wavelen - 1) / 3.
        const double base = std::pow(500000.0, -64.0 / 128.0), wavelen = 2 * M_PI / base;
        const double smooth = (8192.0 / wavelen - 1.0) / 3.0;
        QVERIFY(wavelen > 2048 && wavelen < 8192);
        QVERIFY(std::abs(f[32] - ((1 - smooth) * base / 8.0 + smooth * base)) < 1e-15);
    }
};

QTEST_GUILESS_MAIN(TestHfConfig)
#include "tst_hf_config.moc"
