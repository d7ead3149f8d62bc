// GGUF reader: metadata of every type, tensor layout and alignment, the llama mapping (canonical
// names, RoPE row permutation, also on quantized rows), one case per broken header, and the real
// SmolLM2 file when it is present.
#include <QtTest>

#include <chrono>
#include <cmath>
#include <random>

#include "core/io/ggml_dequant.h"
#include "core/io/gguf.h"
#include "core/io/gguf_llama.h"
#include "core/io/rope_layout.h"
#include "core/util/error.h"
#include "gguf_writer.h"

using namespace scalebits;
using namespace scalebits::testing;
namespace fs = std::filesystem;

namespace {

// A file with one F32 tensor of 4 values and a couple of keys: the base of most broken cases.
GgufWriter small() {
    GgufWriter w;
    w.kv_string("general.name", "x");
    w.add_f32("a", {4}, {1, 2, 3, 4});
    return w;
}

}  // namespace

class TestGguf : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;

    // The result's tensors point into b: keep b alive while using them.
    io::GgufFile parse(const Bytes& b) { return io::parse_gguf(b, nullptr, "test.gguf"); }

    void expect_error(const Bytes& b, const std::string& needle) {
        try {
            parse(b);
            QFAIL(("accepted a broken file, expected: " + needle).c_str());
        } catch (const FormatError& e) {
            const std::string msg = e.what();
            QVERIFY2(msg.find("test.gguf") != std::string::npos, msg.c_str());
            QVERIFY2(msg.find(needle) != std::string::npos, (msg + "  (expected: " + needle + ")").c_str());
        }
    }

private slots:
    void initTestCase() { QVERIFY(tmp_.isValid()); }

    void halfConversion() {
        for (float x : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f})
            QCOMPARE(io::ggml::fp16_to_fp32(io::ggml::fp32_to_fp16(x)), x);
        QVERIFY(std::isinf(io::ggml::fp16_to_fp32(io::ggml::fp32_to_fp16(1e6f))));
        QCOMPARE(io::ggml::fp16_to_fp32(0x3C00), 1.0f);
        QCOMPARE(io::ggml::fp16_to_fp32(0xC000), -2.0f);
        QVERIFY(std::isnan(io::ggml::fp16_to_fp32(0x7E00)));
    }

    void dequantizeBlocks() {
        // Q4_0: low nibbles are weights 0..15, high nibbles 16..31, w = (q - 8) * d.
        Bytes q40;
        put<std::uint16_t>(q40, io::ggml::fp32_to_fp16(0.5f));
        for (int j = 0; j < 16; ++j) put<std::uint8_t>(q40, static_cast<std::uint8_t>((j & 0xF) | ((15 - j) << 4)));
        io::HostTensor t{"q40", io::DType::Q4_0, {32}, q40, nullptr};
        auto v = t.to_float();
        for (int j = 0; j < 16; ++j) {
            QCOMPARE(v[j], (j - 8) * 0.5f);
            QCOMPARE(v[j + 16], (15 - j - 8) * 0.5f);
        }
        // Q4_1: w = q * d + m.
        Bytes q41;
        put<std::uint16_t>(q41, io::ggml::fp32_to_fp16(0.25f));
        put<std::uint16_t>(q41, io::ggml::fp32_to_fp16(-1.0f));
        for (int j = 0; j < 16; ++j) put<std::uint8_t>(q41, static_cast<std::uint8_t>(j | (3 << 4)));
        v = io::HostTensor{"q41", io::DType::Q4_1, {32}, q41, nullptr}.to_float();
        for (int j = 0; j < 16; ++j) {
            QCOMPARE(v[j], j * 0.25f - 1.0f);
            QCOMPARE(v[j + 16], 3 * 0.25f - 1.0f);
        }
        // Q8_0: w = q * d.
        Bytes q80;
        put<std::uint16_t>(q80, io::ggml::fp32_to_fp16(2.0f));
        for (int j = 0; j < 32; ++j) put<std::int8_t>(q80, static_cast<std::int8_t>(j - 16));
        v = io::HostTensor{"q80", io::DType::Q8_0, {32}, q80, nullptr}.to_float();
        for (int j = 0; j < 32; ++j) QCOMPARE(v[j], (j - 16) * 2.0f);
        // Q5_0: the fifth bit comes from qh; w = (q - 16) * d.
        Bytes q50;
        put<std::uint16_t>(q50, io::ggml::fp32_to_fp16(1.0f));
        put<std::uint32_t>(q50, 0x80000001u);  // weight 0 and weight 31 have the high bit
        for (int j = 0; j < 16; ++j) put<std::uint8_t>(q50, 0x11);
        v = io::HostTensor{"q50", io::DType::Q5_0, {32}, q50, nullptr}.to_float();
        QCOMPARE(v[0], 1.0f);    // 0x11 -> 1 | 16 = 17 - 16
        QCOMPARE(v[1], -15.0f);  // 1 - 16
        QCOMPARE(v[31], 1.0f);
    }

    void sizeMismatchIsAnError() {
        Bytes b(10, 0);
        io::HostTensor t{"bad", io::DType::Q8_0, {32}, b, nullptr};
        QVERIFY_THROWS_EXCEPTION(FormatError, t.to_float());
        QCOMPARE(io::dtype_bytes_for(io::DType::Q4_1, 33), std::int64_t(-1));
        QCOMPARE(io::dtype_bytes_for(io::DType::Q4_1, 64), std::int64_t(40));
        QCOMPARE(io::dtype_bytes_for(io::DType::F32, std::int64_t(1) << 62), std::int64_t(-1));
    }

    void parsesMetadataOfEveryType() {
        GgufWriter w;
        Bytes b;
        put<std::uint8_t>(b, 200); w.kv_raw("u8", kGU8, b); b.clear();
        put<std::int8_t>(b, -5); w.kv_raw("i8", kGI8, b); b.clear();
        put<std::uint16_t>(b, 60000); w.kv_raw("u16", kGU16, b); b.clear();
        put<std::int16_t>(b, -300); w.kv_raw("i16", kGI16, b); b.clear();
        w.kv_i32("i32", -7);
        w.kv_u64("u64", ~0ull);
        put<std::int64_t>(b, -9); w.kv_raw("i64", kGI64, b); b.clear();
        put<double>(b, 2.5); w.kv_raw("f64", kGF64, b); b.clear();
        w.kv_bool("b", true);
        w.kv_f32s("fs", {1.5f, 2.5f});
        // An array of two arrays of uint32.
        put<std::uint32_t>(b, kGArray);
        put<std::uint64_t>(b, 2);
        for (int k = 0; k < 2; ++k) {
            put<std::uint32_t>(b, kGU32);
            put<std::uint64_t>(b, 2);
            put<std::uint32_t>(b, 10 * k);
            put<std::uint32_t>(b, 10 * k + 1);
        }
        w.kv_raw("nested", kGArray, b);
        const auto f = parse(w.bytes());
        QCOMPARE(f.version, 3u);
        QCOMPARE(*f.get_int("u8"), std::int64_t(200));
        QCOMPARE(*f.get_int("i8"), std::int64_t(-5));
        QCOMPARE(*f.get_int("u16"), std::int64_t(60000));
        QCOMPARE(*f.get_int("i16"), std::int64_t(-300));
        QCOMPARE(*f.get_int("i32"), std::int64_t(-7));
        QCOMPARE(*f.get_int("i64"), std::int64_t(-9));
        QCOMPARE(*f.get_float("f64"), 2.5);
        QCOMPARE(*f.get_bool("b"), true);
        QCOMPARE(f.find("fs")->array.at(1).f, 2.5);
        QCOMPARE(f.find("nested")->array.at(1).array.at(1).u, std::uint64_t(11));
        QCOMPARE(f.find("u64")->u, ~0ull);
        QVERIFY_THROWS_EXCEPTION(FormatError, f.get_int("u64"));  // does not fit int64
        QVERIFY_THROWS_EXCEPTION(FormatError, f.get_string("i32"));
        QVERIFY(!f.get_int("absent").has_value());
    }

    void tensorsAndAlignment() {
        GgufWriter w = small();
        w.alignment = 64;
        w.kv_u32("general.alignment", 64);
        w.add_f32("m", {3, 2}, {1, 2, 3, 4, 5, 6});
        const auto b = w.bytes();
        const auto f = parse(b);
        QCOMPARE(f.alignment, std::uint64_t(64));
        QCOMPARE(f.data_offset % 64, std::uint64_t(0));
        const io::HostTensor* m = f.tensor("m");
        QVERIFY(m);
        QCOMPARE(m->shape, (std::vector<std::int64_t>{2, 3}));  // ne = {3, 2}: 2 rows of 3
        QCOMPARE(m->to_float(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
        QCOMPARE(static_cast<std::size_t>(m->bytes.data() - b.data()) % 64, std::size_t(0));
    }

    void version2Accepted() {
        GgufWriter w = small();
        w.version = 2;
        QCOMPARE(parse(w.bytes()).version, 2u);
    }

    void brokenFiles() {
        {
            auto b = small().bytes();
            b[0] = 'X';
            expect_error(b, "bad magic");
        }
        {
            GgufWriter w = small();
            w.version = 1;
            expect_error(w.bytes(), "version 1 is not supported");
        }
        {
            // Cut inside the tensor info (header 24 + key/value 33 bytes, then the info).
            auto b = small().bytes();
            b.resize(60);
            expect_error(b, "truncated");
            b = small().bytes();
            b.resize(b.size() - 2);  // cut inside the tensor data
            expect_error(b, "runs past the end");
            b = small().bytes();
            b.resize(10);  // inside the fixed header
            expect_error(b, "truncated");
        }
        {
            GgufWriter w = small();
            w.tensor_count_override = ~0ull;
            expect_error(w.bytes(), "tensor count 18446744073709551615 cannot fit");
        }
        {
            GgufWriter w = small();
            w.kv_count_override = ~0ull;
            expect_error(w.bytes(), "metadata count");
        }
        {
            // A key whose length is near 2^64.
            GgufWriter w;
            Bytes v;
            put<std::uint64_t>(v, ~0ull - 3);
            w.kv_raw("s", kGString, v);
            expect_error(w.bytes(), "truncated");
        }
        {
            // A metadata key (not a value) whose length is near 2^64.
            Bytes b;
            put_bytes(b, "GGUF", 4);
            put<std::uint32_t>(b, 3);
            put<std::uint64_t>(b, 0);  // tensors
            put<std::uint64_t>(b, 1);  // one key/value
            put<std::uint64_t>(b, ~0ull - 3);
            b.resize(b.size() + 64, 'a');  // enough bytes that the count itself is plausible
            expect_error(b, "truncated");
        }
        {
            // A shape whose element count overflows 64 bits: 2^32 * 2^32 * 16.
            GgufWriter w;
            w.tensors.push_back({"huge", {1ull << 32, 1ull << 32, 16}, 0, Bytes(16, 0), std::nullopt});
            expect_error(w.bytes(), "overflows 64 bits");
        }
        {
            // Array count that the file cannot hold (would be a 2^61 * 8-byte allocation).
            GgufWriter w;
            Bytes v;
            put<std::uint32_t>(v, kGU64);
            put<std::uint64_t>(v, 1ull << 61);
            w.kv_raw("arr", kGArray, v);
            expect_error(w.bytes(), "cannot fit");
        }
        {
            GgufWriter w;
            w.add_f32("five", {1, 1, 1, 1, 1}, {1});
            expect_error(w.bytes(), "n_dims 5");
        }
        {
            GgufWriter w;
            w.add_f32("zero", {4, 0}, {});
            expect_error(w.bytes(), "is zero");
        }
        {
            GgufWriter w = small();
            w.kv_u32("general.alignment", 3);
            expect_error(w.bytes(), "power of two");
        }
        {
            GgufWriter w = small();
            w.kv_u32("general.alignment", 0);
            expect_error(w.bytes(), "power of two");
        }
        {
            GgufWriter w = small();
            w.tensors[0].offset = 4096;
            auto b = w.bytes();
            b.resize(b.size() - 8);  // the writer padded the file out to the tensor; cut its end
            expect_error(b, "runs past the end");
        }
        {
            GgufWriter w = small();
            w.add_f32("b", {4}, {5, 6, 7, 8});
            w.tensors[1].offset = 0;  // same bytes as "a"
            expect_error(w.bytes(), "overlaps");
        }
        {
            GgufWriter w = small();
            w.tensors[0].offset = 4;
            expect_error(w.bytes(), "not aligned");
        }
        {
            GgufWriter w = small();
            w.add_f32("b", {4}, {5, 6, 7, 8});
            w.tensors[1].offset = 64;  // "a" ends at 16 (padded to 32), so "b" belongs at 32
            expect_error(w.bytes(), "a gap of 48 bytes before tensor 'b'");
        }
        {
            auto b = small().bytes();
            b.insert(b.end(), 40, 0);  // more than the last tensor's padding
            expect_error(b, "trailing bytes after the last tensor");
        }
        {
            GgufWriter w = small();
            w.tensors[0].ggml_type = 99;
            expect_error(w.bytes(), "unsupported ggml type 99");
        }
        {
            GgufWriter w;
            w.tensors.push_back({"q", {16}, 8, Bytes(17, 0), std::nullopt});
            expect_error(w.bytes(), "not a multiple of the Q8_0 block size 32");
        }
        {
            GgufWriter w = small();
            w.add_f32("a", {4}, {5, 6, 7, 8});
            expect_error(w.bytes(), "duplicate tensor name 'a'");
        }
        {
            GgufWriter w = small();
            w.kv_string("general.name", "y");
            expect_error(w.bytes(), "duplicate metadata key 'general.name'");
        }
        {
            GgufWriter w;
            w.kv_raw("flag", kGBool, Bytes{2});
            expect_error(w.bytes(), "not 0 or 1");
        }
        {
            GgufWriter w;
            w.kv_raw("odd", 13, Bytes{0});
            expect_error(w.bytes(), "unknown value type 13");
        }
        {
            // Arrays nested 9 deep.
            Bytes v;
            for (int k = 0; k < 9; ++k) {
                put<std::uint32_t>(v, kGArray);
                put<std::uint64_t>(v, 1);
            }
            put<std::uint32_t>(v, kGU8);
            put<std::uint64_t>(v, 0);
            GgufWriter w;
            w.kv_raw("deep", kGArray, v);
            expect_error(w.bytes(), "nested deeper");
        }
    }

    void offsetOverflowRejected() {
        // offset + size wraps around 2^64: patch the offset of the only tensor, whose info is the
        // last field before the aligned data section.
        GgufWriter w;
        w.add_f32("a", {4}, {1, 2, 3, 4});
        auto b = w.bytes();
        // Header 24 bytes, then info: name (8 + 1), n_dims 4, ne 8, type 4, offset 8.
        const std::size_t off_at = 24 + 9 + 4 + 8 + 4;
        const std::uint64_t evil = ~0ull - 31;
        std::memcpy(b.data() + off_at, &evil, 8);
        expect_error(b, "runs past the end");
    }

    void llamaMapping() {
        const Bytes bytes = tiny_llama().bytes();  // the parsed tensors are spans into these bytes
        const auto f = parse(bytes);
        const io::GgufLlama g = io::gguf_to_llama(f);
        QCOMPARE(g.config.dim, std::int64_t(32));
        QCOMPARE(g.config.n_heads, std::int64_t(4));
        QCOMPARE(g.config.n_kv_heads, std::int64_t(2));
        QCOMPARE(g.config.head_dim, std::int64_t(8));
        QCOMPARE(g.config.hidden_dim, std::int64_t(64));
        QCOMPARE(g.config.vocab_size, std::int64_t(16));
        QCOMPARE(g.config.max_seq_len, std::int64_t(128));
        QCOMPARE(g.config.rope_theta, 100000.0);
        QVERIFY(g.config.tie_word_embeddings);
        QCOMPARE(g.tensors.size(), std::size_t(11));
        QVERIFY(g.tensors.count("model.layers.0.mlp.down_proj.weight"));
        QCOMPARE(g.tensors.at("model.layers.0.mlp.down_proj.weight").shape, (std::vector<std::int64_t>{32, 64}));
        QVERIFY(g.vocab.has_value());
        QCOMPARE(g.vocab->tokens.size(), std::size_t(16));
        QCOMPARE(g.vocab->pre, std::string("smollm"));
        QCOMPARE(g.vocab->bos_id, 1);
        QCOMPARE(g.vocab->merges.size(), std::size_t(1));

        // q (Q8_0, quantized bytes permuted as whole rows) and k (F32): canonical row h*8 + i comes
        // from stored row h*8 + 2i, canonical row h*8 + 4 + i from stored row h*8 + 2i + 1.
        for (const auto& [gname, cname] : {std::pair{"blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"},
                                           std::pair{"blk.0.attn_k.weight", "model.layers.0.self_attn.k_proj.weight"}}) {
            const auto stored = f.tensor(gname)->to_float();
            const io::HostTensor& canon = g.tensors.at(cname);
            QCOMPARE(canon.dtype, f.tensor(gname)->dtype);
            const auto c = canon.to_float();
            const std::int64_t rows = canon.shape[0], cols = canon.shape[1];
            for (std::int64_t h = 0; h < rows / 8; ++h)
                for (std::int64_t i = 0; i < 4; ++i)
                    for (std::int64_t col = 0; col < cols; ++col) {
                        QCOMPARE(c[(h * 8 + i) * cols + col], stored[(h * 8 + 2 * i) * cols + col]);
                        QCOMPARE(c[(h * 8 + 4 + i) * cols + col], stored[(h * 8 + 2 * i + 1) * cols + col]);
                    }
        }
    }

    void namesMap() {
        QCOMPARE(*io::canonical_gguf_name("blk.12.ffn_gate.weight"), std::string("model.layers.12.mlp.gate_proj.weight"));
        QCOMPARE(*io::canonical_gguf_name("output.weight"), std::string("lm_head.weight"));
        QCOMPARE(*io::canonical_gguf_name("blk.0.attn_q.bias"), std::string("model.layers.0.self_attn.q_proj.bias"));
        QCOMPARE(*io::canonical_gguf_name("blk.3.attn_k_norm.weight"), std::string("model.layers.3.self_attn.k_norm.weight"));
        QVERIFY(!io::canonical_gguf_name("blk.0.attn_norm.bias"));  // RMSNorm has no bias
        QVERIFY(!io::canonical_gguf_name("blk.01.attn_q.weight"));
        QVERIFY(!io::canonical_gguf_name("rope_freqs.weight"));
    }

    void llamaMetadataErrors() {
        {
            GgufWriter w = tiny_llama();
            w.kv_string("general.architecture", "x");  // duplicate key: rejected at parse
            QVERIFY_THROWS_EXCEPTION(FormatError, parse(w.bytes()));
        }
        {
            GgufWriter w;
            w.kv_string("general.architecture", "gemma2");
            QVERIFY_THROWS_EXCEPTION(InputError, io::gguf_llama_config(parse(w.bytes())));
        }
        {
            GgufWriter w;
            w.kv_string("general.architecture", "llama");
            w.kv_u32("llama.embedding_length", 32);
            try {
                io::gguf_llama_config(parse(w.bytes()));
                QFAIL("accepted metadata without feed_forward_length");
            } catch (const FormatError& e) {
                QVERIFY2(std::string(e.what()).find("llama.feed_forward_length") != std::string::npos, e.what());
            }
        }
        {
            GgufWriter w = tiny_llama();
            // A q bias alone: a llama model has all four attention biases or none.
            w.add_f32("blk.0.attn_q.bias", {32}, ramp(32));
            QVERIFY_THROWS_EXCEPTION(InputError, io::gguf_to_llama(parse(w.bytes())));
        }
    }

    void mutatedFilesNeverCrash() {
        // Random byte edits of a valid llama file: each parse either succeeds or throws InputError
        // (FormatError included); anything else (a crash, bad_alloc, length_error) is a bug.
        const Bytes good = tiny_llama().bytes();
        std::mt19937 rng(1234);
        int accepted = 0;
        for (int round = 0; round < 3000; ++round) {
            Bytes b = good;
            const int edits = 1 + static_cast<int>(rng() % 4);
            for (int e = 0; e < edits; ++e) {
                const std::size_t at = rng() % std::min<std::size_t>(b.size(), round % 2 ? b.size() : 900);
                b[at] = static_cast<std::uint8_t>(rng() % 3 == 0 ? 0xFF : rng());
            }
            if (round % 7 == 0) b.resize(rng() % b.size());
            try {
                const io::GgufFile f = parse(b);
                const io::GgufLlama g = io::gguf_to_llama(f);
                for (const auto& [name, t] : g.tensors) (void)t.to_float();
                ++accepted;
            } catch (const InputError&) {
            }
        }
        qInfo("%d of 3000 mutated files still parsed", accepted);
    }

    void realSmolLM2() {
        const fs::path p = fs::path(SCALEBITS_MODEL_CACHE) / "SmolLM2-135M-Instruct.Q4_1.gguf";
        if (!fs::exists(p)) QSKIP("SmolLM2 GGUF not downloaded (run setup)");
        const auto t0 = std::chrono::steady_clock::now();
        const io::GgufFile f = io::read_gguf(p);
        const io::GgufLlama g = io::gguf_to_llama(f);
        const auto& c = g.config;
        QCOMPARE(c.dim, std::int64_t(576));
        QCOMPARE(c.n_layers, std::int64_t(30));
        QCOMPARE(c.n_heads, std::int64_t(9));
        QCOMPARE(c.n_kv_heads, std::int64_t(3));
        QCOMPARE(c.head_dim, std::int64_t(64));
        QCOMPARE(c.hidden_dim, std::int64_t(1536));
        QCOMPARE(c.vocab_size, std::int64_t(49152));
        QVERIFY(c.tie_word_embeddings);
        QCOMPARE(g.tensors.size(), std::size_t(2 + 30 * 9));
        const io::HostTensor& emb = g.tensors.at("model.embed_tokens.weight");
        QCOMPARE(emb.dtype, io::DType::Q8_0);
        QCOMPARE(emb.shape, (std::vector<std::int64_t>{49152, 576}));
        QCOMPARE(g.tensors.at("model.layers.0.self_attn.q_proj.weight").dtype, io::DType::Q4_1);
        QCOMPARE(g.tensors.at("model.layers.0.self_attn.k_proj.weight").shape, (std::vector<std::int64_t>{192, 576}));
        QCOMPARE(g.tensors.at("model.norm.weight").dtype, io::DType::F32);
        // Dequantize everything (what the model does at load) and check it is finite.
        std::size_t total = 0;
        for (const auto& [name, t] : g.tensors) {
            const auto v = t.to_float();
            total += v.size();
            if (name == "model.embed_tokens.weight")
                for (std::int64_t j = 0; j < 576; ++j) QVERIFY(std::isfinite(v[j]));
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        qInfo("SmolLM2: %zu weights parsed and dequantized in %.2f s", total, secs);
        QVERIFY(g.vocab.has_value());
        QCOMPARE(g.vocab->model, std::string("gpt2"));
        QCOMPARE(g.vocab->pre, std::string("smollm"));
        QCOMPARE(g.vocab->tokens.size(), std::size_t(49152));
        QVERIFY(!g.vocab->merges.empty());
    }
};

QTEST_GUILESS_MAIN(TestGguf)
#include "tst_gguf.moc"
