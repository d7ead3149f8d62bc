// Score-merged tokenizers: llama2.c's tokenizer.bin (tok512 from the stories260K data) against ids
// from a naive restatement of llama2.c's encode() (fixture) and hand-checked pieces, a hand-built
// GGUF "llama" vocabulary, and every way a tokenizer.bin can be broken.
#include <QtTest>

#include <cstring>
#include <random>

#include "core/tokenizer/factory.h"
#include "core/util/error.h"
#include "tst_tokenizer_util.h"

using namespace scalebits::tokenizer;
using nlohmann::json;

namespace {

std::filesystem::path tok512() {
    return std::filesystem::path(SCALEBITS_SHARED_DATA) / "stories260K/tok512.bin";
}

// A tokenizer.bin in memory: max_token_length, then (score, length, bytes) per token.
struct BinWriter {
    std::string bytes;
    template <class T>
    void put(T v) {
        bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    void token(float score, const std::string& text) {
        put(score);
        put(static_cast<std::int32_t>(text.size()));
        bytes += text;
    }
};

// Small valid vocabulary: <unk>, BOS, EOS, the 256 byte tokens, then a few pieces.
BinWriter small_bin() {
    BinWriter w;
    w.put<std::int32_t>(8);
    w.token(0, "<unk>");
    w.token(0, "\n<s>\n");
    w.token(0, "\n</s>\n");
    char piece[8];
    for (int b = 0; b < 256; ++b) {
        std::snprintf(piece, sizeof piece, "<0x%02X>", b);
        w.token(0, piece);
    }
    w.token(-1, " ");   // 259
    w.token(-2, "a");   // 260
    w.token(-3, "b");   // 261
    w.token(-4, " a");  // 262
    w.token(-5, "ab");  // 263
    w.token(-6, " ab"); // 264
    return w;
}

}  // namespace

class TestTokenizerSpm : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dir_;
    std::filesystem::path file(const char* name) { return std::filesystem::path(dir_.path().toStdString()) / name; }

    void expect_format_error(const std::string& bytes, std::int32_t vocab_size, const char* needle) {
        const auto path = file("broken.bin");
        tokenizer_test::write_file(path, bytes);
        try {
            load_llama2c_tokenizer(path, vocab_size);
            QFAIL("no error for a broken tokenizer.bin");
        } catch (const scalebits::FormatError& e) {
            const std::string msg = e.what();
            QVERIFY2(msg.find(path.string()) != std::string::npos, msg.c_str());
            QVERIFY2(msg.find(needle) != std::string::npos, msg.c_str());
        }
    }

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void tok512MatchesReference() {
        if (!std::filesystem::exists(tok512())) QSKIP("tok512.bin not in shared data");
        const auto tok = load_llama2c_tokenizer(tok512(), 512);
        QCOMPARE(tok->vocab_size(), 512);
        QCOMPARE(tok->bos_id(), 1);
        QCOMPARE(tok->eos_id(), 2);
        QCOMPARE(tok->kind(), std::string("spm"));
        const json fixture = tokenizer_test::load_fixture();
        for (const json& c : fixture["tok512"]["cases"]) {
            const std::string text = c["text"];
            const auto ids = tok->encode(text, c["bos"].get<bool>());
            QCOMPARE(tokenizer_test::ids_text(ids), tokenizer_test::ids_text(c["ids"].get<std::vector<std::int32_t>>()));
            if (c["bos"].get<bool>()) QCOMPARE(tok->decode(ids), text);  // BOS drops the dummy space
        }
    }

    void tok512HandChecked() {
        if (!std::filesystem::exists(tok512())) QSKIP("tok512.bin not in shared data");
        const auto tok = load_llama2c_tokenizer(tok512(), 512);
        const auto ids = tok->encode("Once upon a time", true);
        // BOS, then four word pieces that each carry their leading space.
        QCOMPARE(ids.size(), std::size_t(5));
        QCOMPARE(ids[0], 1);
        QCOMPARE(tok->decode_token(1, ids[1]), std::string("Once"));  // space stripped after BOS
        QCOMPARE(tok->decode_token(ids[1], ids[2]), std::string(" upon"));
        QCOMPARE(tok->decode_token(ids[2], ids[3]), std::string(" a"));
        QCOMPARE(tok->decode_token(ids[3], ids[4]), std::string(" time"));
        QCOMPARE(tok->decode(ids), std::string("Once upon a time"));
        // Without BOS the dummy prefix space stays, as in run.c.
        QCOMPARE(tok->decode(tok->encode("Once upon a time", false)), std::string(" Once upon a time"));
        // Byte fallback: a code point with no piece becomes its bytes (id = byte + 3) and decodes back.
        const auto cjk = tok->encode("日", false);
        QCOMPARE(cjk.size(), std::size_t(4));  // " " then E6 97 A5
        QCOMPARE(cjk[1], 0xE6 + 3);
        QCOMPARE(tok->decode(cjk), std::string(" 日"));
        QCOMPARE(tok->encode("", false), std::vector<std::int32_t>{});
        QCOMPARE(tok->decode_token(5, 1), std::string());  // BOS is a marker, not text
    }

    void smallVocabularyMergesByScore() {
        const auto path = file("small.bin");
        tokenizer_test::write_file(path, small_bin().bytes);
        const auto tok = load_llama2c_tokenizer(path, 265);
        // BOS " " a b a: " "+"a" -> " a" scores -4, "a"+"b" -> "ab" only -5, so " a" merges first,
        // then " a"+"b" -> " ab" (-6). Result: BOS, " ab", "a".
        QCOMPARE(tok->encode("aba", true), (std::vector<std::int32_t>{1, 264, 260}));
        // 'z' has no piece: byte fallback 'z' + 3.
        QCOMPARE(tok->encode("z", false), (std::vector<std::int32_t>{259, 'z' + 3}));
        QCOMPARE(tok->decode({1, 264, 260, 'z' + 3}), std::string("abaz"));
    }

    void ggufLlamaVocabulary() {
        GgufVocab v;
        v.model = "llama";
        v.tokens = {"<unk>", "<s>", "</s>", "<0x0A>", "<0x21>", "\xE2\x96\x81", "h", "i", "\xE2\x96\x81h", "hi",
                    "\xE2\x96\x81hi", "<|user|>"};
        v.scores = {0, 0, 0, 0, 0, -1, -2, -3, -4, -5, -6, 0};
        v.token_types = {2, 3, 3, 6, 6, 1, 1, 1, 1, 1, 1, 4};
        v.bos_id = 1;
        v.eos_id = 2;
        v.unk_id = 0;
        const auto tok = make_gguf_tokenizer(v, "hand.gguf");
        // "▁hi": ▁+h (-4) beats h+i (-5), then ▁h+i -> ▁hi (-6).
        QCOMPARE(tok->encode("hi", true), (std::vector<std::int32_t>{1, 10}));
        // '!' and '\n' only exist as byte tokens; "<|user|>" is matched verbatim and the text after it
        // gets the prefix space again (llama.cpp's rule).
        QCOMPARE(tok->encode("hi!\n<|user|>hi", false), (std::vector<std::int32_t>{10, 4, 3, 11, 10}));
        // 'x' has no piece and no byte token: the unknown token.
        QCOMPARE(tok->encode("x", false), (std::vector<std::int32_t>{5, 0}));
        QCOMPARE(tok->decode({1, 10, 4, 3, 5, 9}), std::string("hi!\n hi"));
        v.scores.pop_back();
        QVERIFY_THROWS_EXCEPTION(scalebits::FormatError, make_gguf_tokenizer(v, "hand.gguf"));
    }

    void randomBytesRoundTrip() {
        if (!std::filesystem::exists(tok512())) QSKIP("tok512.bin not in shared data");
        const auto tok = load_llama2c_tokenizer(tok512(), 512);
        // Any bytes at all (NULs, broken UTF-8) survive encode/decode: byte fallback covers them.
        std::mt19937 rng(7);
        const std::string alphabet = std::string("abc e\n\xC3\xA9\xE6\x97\xA5\xF0\x9F\x98\x80\x80\xFF") + '\0';
        for (int round = 0; round < 300; ++round) {
            std::string text;
            const int n = static_cast<int>(rng() % 40);
            for (int i = 0; i < n; ++i)
                text += rng() % 4 ? alphabet[rng() % alphabet.size()] : static_cast<char>(rng() % 256);
            const auto ids = tok->encode(text, true);
            for (auto id : ids) QVERIFY(id >= 0 && id < 512);
            QCOMPARE(tok->decode(ids), text);
        }
    }

    void everyTruncationFails() {
        const std::string good = small_bin().bytes;
        const auto path = file("cut.bin");
        // About 60 cut points spread over the file (file writes are slow on some disks), plus the
        // first header and token field boundaries.
        std::vector<std::size_t> cuts{0, 3, 4, 7, 8, 11, 12, 13};
        for (std::size_t cut = 17; cut < good.size(); cut += good.size() / 60) cuts.push_back(cut);
        for (std::size_t cut : cuts) {
            tokenizer_test::write_file(path, good.substr(0, cut));
            QVERIFY_THROWS_EXCEPTION(scalebits::FormatError, load_llama2c_tokenizer(path, 265));
        }
    }

    void brokenTokenizerBin() {
        const std::string good = small_bin().bytes;
        expect_format_error(good.substr(0, 2), 265, "too short");
        expect_format_error(good.substr(0, good.size() - 1), 265, "runs past the end");
        expect_format_error(good.substr(0, good.size() - 4), 265, "ends inside token");
        expect_format_error(good, 300, "ends inside token 265");
        expect_format_error(good, 200, "vocab_size");
        expect_format_error(good + "xyz", 265, "unexpected bytes");
        BinWriter neg = small_bin();
        const std::size_t len_at = 4 + 4;  // first token's length field
        const std::int32_t minus = -7;
        std::memcpy(neg.bytes.data() + len_at, &minus, 4);
        expect_format_error(neg.bytes, 265, "negative length");
        BinWriter huge = small_bin();
        const std::int32_t big = 1 << 30;
        std::memcpy(huge.bytes.data() + len_at, &big, 4);
        expect_format_error(huge.bytes, 265, "runs past the end");
        BinWriter zero_max;
        zero_max.put<std::int32_t>(0);
        expect_format_error(zero_max.bytes, 1, "max_token_length");
        QVERIFY_THROWS_EXCEPTION(scalebits::InputError, load_llama2c_tokenizer(file("missing.bin"), 512));
        QVERIFY_THROWS_EXCEPTION(scalebits::InputError, load_llama2c_tokenizer(file("small.bin"), 0));
    }
};

QTEST_GUILESS_MAIN(TestTokenizerSpm)
#include "tst_tokenizer_spm.moc"
