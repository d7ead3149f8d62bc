// llama2.c reader: the real stories260K checkpoint (weights checked against the raw file at the
// offsets run.c uses, q/k through the RoPE permutation), synthetic files with a separate classifier,
// and files whose size disagrees with their header.
#include <QtTest>

#include <fstream>

#include "core/io/llama2c.h"
#include "core/io/rope_layout.h"
#include "core/util/error.h"
#include "test_bytes.h"

using namespace scalebits;
using namespace scalebits::testing;
namespace fs = std::filesystem;

namespace {

const fs::path kStories = fs::path(SCALEBITS_SHARED_DATA) / "stories260K" / "stories260K.bin";

std::vector<float> raw_floats(const fs::path& p, std::int64_t float_offset, std::int64_t count) {
    std::ifstream in(p, std::ios::binary);
    in.seekg(28 + float_offset * 4);
    std::vector<float> v(static_cast<std::size_t>(count));
    in.read(reinterpret_cast<char*>(v.data()), count * 4);
    return v;
}

// dim 8, hidden 16, 2 layers, 2 heads (head size 4), 1 KV head, vocab 5, seq 3. Value k is k * 0.001.
Bytes synthetic(bool shared, std::int64_t extra_floats = 0) {
    Bytes b;
    for (std::int32_t v : {8, 16, 2, 2, 1, shared ? 5 : -5, 3}) put(b, v);
    const std::int64_t hs = 4;
    std::int64_t n = 5 * 8 + 2 * 8 + 2 * 8 * 8 + 2 * 8 * 4 * 2 + 2 * 8 * 8 + 2 * 8 + 3 * 2 * 8 * 16 + 8 + 3 * hs;
    if (!shared) n += 5 * 8;
    n += extra_floats;
    for (std::int64_t k = 0; k < n; ++k) put(b, static_cast<float>(k) * 0.001f);
    return b;
}

}  // namespace

class TestLlama2c : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;

private slots:
    void initTestCase() { QVERIFY(tmp_.isValid()); }

    void stories260K() {
        if (!fs::exists(kStories)) QSKIP("shared data not present");
        const io::Llama2cModel m = io::read_llama2c(kStories);
        const auto& c = m.config;
        QCOMPARE(c.dim, std::int64_t(64));
        QCOMPARE(c.n_layers, std::int64_t(5));
        QCOMPARE(c.n_heads, std::int64_t(8));
        QCOMPARE(c.n_kv_heads, std::int64_t(4));
        QCOMPARE(c.head_dim, std::int64_t(8));
        QCOMPARE(c.hidden_dim, std::int64_t(172));
        QCOMPARE(c.vocab_size, std::int64_t(512));
        QCOMPARE(c.max_seq_len, std::int64_t(512));
        QVERIFY(c.tie_word_embeddings);
        QCOMPARE(m.tensors.size(), std::size_t(2 + 5 * 9));

        // Float offsets of each stacked array in the file (run.c memory_map_weights).
        const std::int64_t dim = 64, L = 5, hid = 172, V = 512;
        const std::int64_t o_embed = 0, o_rms_att = V * dim, o_wq = o_rms_att + L * dim, o_wk = o_wq + L * dim * dim;
        const std::int64_t o_wv = o_wk + L * dim * 32, o_wo = o_wv + L * dim * 32, o_rms_ffn = o_wo + L * dim * dim;
        const std::int64_t o_w1 = o_rms_ffn + L * dim, o_w2 = o_w1 + L * dim * hid, o_w3 = o_w2 + L * dim * hid;
        const std::int64_t o_final = o_w3 + L * dim * hid;

        QCOMPARE(m.tensors.at("model.embed_tokens.weight").to_float(), raw_floats(kStories, o_embed, V * dim));
        QCOMPARE(m.tensors.at("model.norm.weight").to_float(), raw_floats(kStories, o_final, dim));
        QCOMPARE(m.tensors.at("model.layers.2.input_layernorm.weight").to_float(),
                 raw_floats(kStories, o_rms_att + 2 * dim, dim));
        QCOMPARE(m.tensors.at("model.layers.4.post_attention_layernorm.weight").to_float(),
                 raw_floats(kStories, o_rms_ffn + 4 * dim, dim));
        QCOMPARE(m.tensors.at("model.layers.3.self_attn.v_proj.weight").to_float(),
                 raw_floats(kStories, o_wv + 3 * 32 * dim, 32 * dim));
        QCOMPARE(m.tensors.at("model.layers.1.self_attn.o_proj.weight").to_float(),
                 raw_floats(kStories, o_wo + 1 * dim * dim, dim * dim));
        QCOMPARE(m.tensors.at("model.layers.0.mlp.gate_proj.weight").to_float(), raw_floats(kStories, o_w1, hid * dim));
        QCOMPARE(m.tensors.at("model.layers.0.mlp.down_proj.weight").to_float(), raw_floats(kStories, o_w2, dim * hid));
        QCOMPARE(m.tensors.at("model.layers.4.mlp.up_proj.weight").to_float(),
                 raw_floats(kStories, o_w3 + 4 * hid * dim, hid * dim));
        QCOMPARE(m.tensors.at("model.layers.0.mlp.down_proj.weight").shape, (std::vector<std::int64_t>{64, 172}));

        // q/k: canonical row h*8 + i (i < 4) is stored row h*8 + 2i; canonical h*8 + 4 + i is h*8 + 2i + 1.
        const auto q = m.tensors.at("model.layers.2.self_attn.q_proj.weight").to_float();
        const auto q_raw = raw_floats(kStories, o_wq + 2 * dim * dim, dim * dim);
        QCOMPARE(q[0], q_raw[0]);                   // row 0 stays
        QCOMPARE(q[1 * dim + 5], q_raw[2 * dim + 5]);  // canonical row 1 <- stored row 2
        QCOMPARE(q[4 * dim], q_raw[1 * dim]);          // canonical row 4 <- stored row 1
        QCOMPARE(q[(8 + 7) * dim + 63], q_raw[(8 + 7) * dim + 63]);  // last of head 1: 4 + 3 <- 2*3 + 1
        QCOMPARE(q[(8 + 6) * dim], q_raw[(8 + 5) * dim]);            // 4 + 2 <- 2*2 + 1
        const auto k = m.tensors.at("model.layers.1.self_attn.k_proj.weight").to_float();
        const auto k_raw = raw_floats(kStories, o_wk + 1 * 32 * dim, 32 * dim);
        for (std::int64_t r = 0; r < 32; ++r)
            for (std::int64_t col = 0; col < dim; ++col)
                QCOMPARE(k[r * dim + col], k_raw[io::interleaved_source_row(r, 8) * dim + col]);
    }

    void findsTokenizerBeside() {
        if (!fs::exists(kStories)) QSKIP("shared data not present");
        const auto t = io::find_llama2c_tokenizer(kStories, 512, std::nullopt);
        QVERIFY(t.has_value());
        QCOMPARE(t->filename().string(), std::string("tok512.bin"));
        QCOMPARE(*io::find_llama2c_tokenizer(kStories, 512, fs::path("/x/y.bin")), fs::path("/x/y.bin"));
        QVERIFY(!io::find_llama2c_tokenizer(kStories, 77, std::nullopt).has_value());
    }

    void separateClassifier() {
        const fs::path p = fs::path(tmp_.path().toStdString()) / "sep.bin";
        write_file(p, synthetic(false));
        const io::Llama2cModel m = io::read_llama2c(p);
        QVERIFY(!m.config.tie_word_embeddings);
        QCOMPARE(m.config.vocab_size, std::int64_t(5));
        QVERIFY(m.tensors.count("lm_head.weight"));
        // wcls is the last array, after the skipped RoPE tables.
        const std::int64_t total = static_cast<std::int64_t>((fs::file_size(p) - 28) / 4);
        const auto head = m.tensors.at("lm_head.weight").to_float();
        QCOMPARE(head.front(), static_cast<float>(total - 40) * 0.001f);
        QCOMPARE(head.back(), static_cast<float>(total - 1) * 0.001f);

        const fs::path s = fs::path(tmp_.path().toStdString()) / "shared.bin";
        write_file(s, synthetic(true));
        const io::Llama2cModel ms = io::read_llama2c(s);
        QVERIFY(ms.config.tie_word_embeddings);
        QVERIFY(!ms.tensors.count("lm_head.weight"));
    }

    void sizeMismatch() {
        const fs::path p = fs::path(tmp_.path().toStdString()) / "bad.bin";
        for (std::int64_t extra : {-1, 1}) {
            write_file(p, synthetic(true, extra));
            try {
                io::read_llama2c(p);
                QFAIL("accepted a file of the wrong size");
            } catch (const FormatError& e) {
                QVERIFY2(std::string(e.what()).find("header implies") != std::string::npos, e.what());
            }
        }
    }

    void implausibleHeader() {
        const fs::path p = fs::path(tmp_.path().toStdString()) / "odd.bin";
        Bytes b;
        for (std::int32_t v : {10, 16, 2, 3, 1, 5, 3}) put(b, v);  // 10 is not a multiple of 3 heads
        b.resize(4096, 0);
        write_file(p, b);
        QVERIFY_THROWS_EXCEPTION(FormatError, io::read_llama2c(p));
        write_file(p, Bytes{1, 2, 3});
        QVERIFY_THROWS_EXCEPTION(FormatError, io::read_llama2c(p));
    }

    void hugeHeaderDoesNotOverflow() {
        io::Llama2cHeader h{1 << 30, 1 << 30, 1 << 30, 1, 1, INT32_MAX, INT32_MAX, true};
        QCOMPARE(io::llama2c_expected_size(h), std::int64_t(-1));
        const io::Llama2cHeader ok{64, 172, 5, 8, 4, 512, 512, true};
        QCOMPARE(io::llama2c_expected_size(ok), std::int64_t(1056540));  // stories260K.bin's size
    }
};

QTEST_GUILESS_MAIN(TestLlama2c)
#include "tst_llama2c.moc"
