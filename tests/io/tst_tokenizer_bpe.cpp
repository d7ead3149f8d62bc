// Byte-level BPE against Hugging Face's reference ids (tests/data/tokenizer/smollm2_fixture.json,
// made by scripts/make_tokenizer_fixture.py), through both loaders: the GGUF vocabulary of the real
// SmolLM2 file and a tokenizer.json written from it. Plus a hand-written tokenizer.json that needs
// no model file, pre-tokenizer patterns, and the speed on WikiText-2.
#include <QtTest>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>

#include "core/tokenizer/factory.h"
#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/text_utils.h"
#include "core/util/error.h"
#include "tst_tokenizer_util.h"

using namespace scalebits::tokenizer;
using nlohmann::json;

class TestTokenizerBpe : public QObject {
    Q_OBJECT

private:
    json fixture_;
    std::shared_ptr<const Tokenizer> gguf_tok_;  // null when the model file is absent
    std::shared_ptr<const Tokenizer> json_tok_;
    QTemporaryDir dir_;

    void compare_fixture(const Tokenizer& tok) {
        int checked = 0;
        for (const json& c : fixture_["smollm2"]["cases"]) {
            const std::string text = c["text"];
            const auto expected = c["ids"].get<std::vector<std::int32_t>>();
            const auto ids = tok.encode(text, false);
            if (ids != expected)
                QFAIL(qPrintable(QStringLiteral("text %1\n got      %2\n expected %3")
                                     .arg(QString::fromStdString(text), tokenizer_test::ids_text(ids),
                                          tokenizer_test::ids_text(expected))));
            QCOMPARE(tok.decode(ids), c["decoded"].get<std::string>());  // == text but for dropped bytes
            ++checked;
        }
        QVERIFY(checked >= 40);
    }

private slots:
    void initTestCase() {
        fixture_ = tokenizer_test::load_fixture();
        QVERIFY(fixture_["smollm2"]["cases"].size() >= 40);
        QVERIFY(dir_.isValid());
        const auto vocab = tokenizer_test::smollm2_vocab();
        if (!vocab) return;
        gguf_tok_ = make_gguf_tokenizer(*vocab, tokenizer_test::smollm2_gguf().string());

        // The same vocabulary as a Hugging Face tokenizer.json with SmolLM2's published pipeline.
        json vocab_json = json::object();
        for (std::size_t i = 0; i < vocab->tokens.size(); ++i) vocab_json[vocab->tokens[i]] = i;
        json merges = json::array();
        for (std::size_t i = 0; i < vocab->merges.size(); ++i) {
            const std::string& m = vocab->merges[i];
            const auto sp = m.find(' ');
            if (i % 2) merges.push_back(m);  // both spellings of a merge in one file
            else merges.push_back(json::array({m.substr(0, sp), m.substr(sp + 1)}));
        }
        json added = json::array();
        for (std::size_t i = 0; i < vocab->token_types.size(); ++i)
            if (vocab->token_types[i] == 3)
                added.push_back({{"id", i}, {"content", vocab->tokens[i]}, {"special", true}, {"lstrip", false},
                                 {"rstrip", false}, {"normalized", false}, {"single_word", false}});
        const json root = {
            {"version", "1.0"},
            {"added_tokens", added},
            {"normalizer", nullptr},
            {"pre_tokenizer",
             {{"type", "Sequence"},
              {"pretokenizers",
               json::array({{{"type", "Digits"}, {"individual_digits", true}},
                            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                             {"use_regex", true}}})}}},
            {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}}},
            {"model", {{"type", "BPE"}, {"unk_token", nullptr}, {"vocab", vocab_json}, {"merges", merges}}},
        };
        const auto path = std::filesystem::path(dir_.path().toStdString()) / "tokenizer.json";
        tokenizer_test::write_file(path, root.dump());
        tokenizer_test::write_file(path.parent_path() / "tokenizer_config.json",
                                   R"({"bos_token": "<|im_start|>", "eos_token": {"content": "<|im_end|>"}})");
        json_tok_ = load_tokenizer_json(path);
    }

    void ggufMatchesHuggingFace() {
        if (!gguf_tok_) QSKIP("SmolLM2 GGUF not downloaded (scripts/fetch-model.sh)");
        QCOMPARE(gguf_tok_->vocab_size(), fixture_["smollm2"]["vocab_size"].get<int>());
        QCOMPARE(gguf_tok_->bos_id(), 1);
        QCOMPARE(gguf_tok_->eos_id(), 2);
        QCOMPARE(gguf_tok_->kind(), std::string("bpe"));
        compare_fixture(*gguf_tok_);
    }

    void tokenizerJsonMatchesHuggingFace() {
        if (!json_tok_) QSKIP("SmolLM2 GGUF not downloaded (scripts/fetch-model.sh)");
        QCOMPARE(json_tok_->bos_id(), 1);
        QCOMPARE(json_tok_->eos_id(), 2);
        compare_fixture(*json_tok_);
    }

    void addBosAndInvalidUtf8() {
        if (!gguf_tok_) QSKIP("SmolLM2 GGUF not downloaded");
        const auto ids = gguf_tok_->encode("Hi", true);
        QCOMPARE(ids.front(), 1);
        // Malformed UTF-8 still encodes byte by byte and decodes to the same bytes.
        const std::string broken = "ok \xC3\x28 \xE2\x82\xE2 end \xE2\x82";
        QCOMPARE(gguf_tok_->decode(gguf_tok_->encode(broken, false)), broken);
        // SmolLM2 has no token for bytes that never occur in UTF-8 text (0xFF, ...): like Hugging
        // Face without unk_token they are dropped (with a warning on stderr).
        QCOMPARE(gguf_tok_->decode(gguf_tok_->encode("a\xFF\xFE" "b", false)), std::string("ab"));
        QVERIFY_THROWS_EXCEPTION(scalebits::InputError, gguf_tok_->decode_token(-1, 49152));
        QVERIFY_THROWS_EXCEPTION(scalebits::InputError, gguf_tok_->decode_token(-1, -5));
    }

    void randomTextRoundTrip() {
        if (!gguf_tok_) QSKIP("SmolLM2 GGUF not downloaded");
        // Random mixes of scripts, digits, spaces, specials and broken UTF-8 come back byte-exact.
        const std::vector<std::string> parts{"a", "Z", " ", "  ", "\n", "\t", "7", "42", "'s", "'T", "!", "...",
                                             "\xC3\xA9", "\xE6\x97\xA5", "\xF0\x9F\x98\x80", "\xD8\xB3", "\xC3",
                                             "\x80", "<|im_start|>", "<|im_end", "\r\n", "\xE2\x80\x8B", "_x"};
        std::mt19937 rng(11);
        for (int round = 0; round < 500; ++round) {
            std::string text;
            const int n = static_cast<int>(rng() % 30);
            for (int i = 0; i < n; ++i) text += parts[rng() % parts.size()];
            const auto ids = gguf_tok_->encode(text, false);
            for (auto id : ids) QVERIFY(id >= 0 && id < gguf_tok_->vocab_size());
            QCOMPARE(gguf_tok_->decode(ids), text);
        }
    }

    void wikitextRoundTrip() {
        if (!gguf_tok_) QSKIP("SmolLM2 GGUF not downloaded");
        const auto path = std::filesystem::path(SCALEBITS_SHARED_DATA) / "wikitext-2-raw/wiki.test.raw";
        if (!std::filesystem::exists(path)) QSKIP("wiki.test.raw not in shared data");
        std::ifstream in(path, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        const std::string text = ss.str();
        // A fresh tokenizer so the word cache starts empty and the time is the cold one.
        const auto tok = make_gguf_tokenizer(*tokenizer_test::smollm2_vocab(), "smollm2");
        const auto t0 = std::chrono::steady_clock::now();
        const auto ids = tok->encode(text, false);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        qInfo("wiki.test.raw: %zu bytes -> %zu tokens in %.3f s (reported, not asserted)", text.size(), ids.size(),
              seconds);
        QVERIFY(ids.size() > 250000 && ids.size() < 400000);
        QCOMPARE(tok->decode(ids), text);
    }

    void handWrittenTokenizerJson() {
        // A tiny byte-level vocabulary: the letters of "low lower", 'Ġ' for space, three merges in
        // both spellings, one special token past the model vocabulary.
        const json root = json::parse(R"({
          "added_tokens": [{"id": 10, "content": "<eos>", "special": true}],
          "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
          "decoder": {"type": "ByteLevel"},
          "model": {"type": "BPE", "vocab": {"l": 0, "o": 1, "w": 2, "e": 3, "r": 4, "Ġ": 5,
                                             "lo": 6, "low": 7, "Ġl": 8, "er": 9},
                    "merges": ["l o", ["lo", "w"], "Ġ l", "e r"]}
        })");
        const auto path = std::filesystem::path(dir_.path().toStdString()) / "small" / "tokenizer.json";
        std::filesystem::create_directories(path.parent_path());
        tokenizer_test::write_file(path, root.dump());
        const auto tok = load_tokenizer_json(path);
        QCOMPARE(tok->vocab_size(), 11);
        QCOMPARE(tok->bos_id(), -1);
        // "low": l o w -> lo w (rank 0) -> low (rank 1). " lower": Ġ l o w e r; "l o" (rank 0)
        // wins over "Ġ l" (rank 2), so Ġ lo w e r -> Ġ low e r -> Ġ low er.
        const std::vector<std::int32_t> expected{7, 5, 7, 9, 10};
        QCOMPARE(tok->encode("low lower<eos>", false), expected);
        QCOMPARE(tok->decode(expected), std::string("low lower<eos>"));
        // A byte with no token is dropped (Hugging Face without unk_token does the same).
        QCOMPARE(tok->encode("lz", false), std::vector<std::int32_t>{0});
    }

    void pretokenizerPatterns() {
        PreTokenizer gpt2;
        gpt2.add_split(patterns::gpt2, "test");
        const auto pieces = gpt2.split("I'm  fine123 ok!?\n\n x");
        const std::vector<std::string_view> expected{"I", "'m", " ", " fine", "123", " ok", "!?", "\n\n", " x"};
        QCOMPARE(pieces, expected);

        PreTokenizer llama3 = make_gguf_pretokenizer("llama3", "test").pre;
        const std::vector<std::string_view> expected3{"I", "'M", " ", " fine", "123", "45", " ok", "!?\n\n", " x"};
        QCOMPARE(llama3.split("I'M  fine12345 ok!?\n\n x"), expected3);

        // An unknown name still tokenizes (GPT-2's pattern) after a warning on stderr.
        PreTokenizer fallback = make_gguf_pretokenizer("no-such-pre", "test").pre;
        QCOMPARE(fallback.split("a b").size(), std::size_t(2));
        QVERIFY_THROWS_EXCEPTION(scalebits::InputError, RegexSplitter("(unclosed", "test"));

        // Very long runs (past the JIT stack's comfort) still split correctly.
        const std::string spaces(300000, ' ');
        const std::string long_text = spaces + "x" + std::string(300000, 'a');
        const auto long_pieces = gpt2.split(long_text);
        QCOMPARE(long_pieces.size(), std::size_t(2));
        QCOMPARE(long_pieces[0].size(), spaces.size() - 1);
        QCOMPARE(long_pieces[1].size(), std::size_t(300002));
    }

    void llama3PreTokenizerMatchesHuggingFace() {
        const json& ref = fixture_["llama3_pretokenizer"];
        QCOMPARE(ref["pattern"].get<std::string>(), std::string(patterns::llama3));
        const PreTokenizer pre = make_gguf_pretokenizer("llama-bpe", "test").pre;
        for (const json& c : ref["cases"]) {
            const std::string text = c["text"];
            std::vector<std::string> got;
            for (std::string_view p : pre.split(text)) got.emplace_back(p);
            QCOMPARE(got, c["pieces"].get<std::vector<std::string>>());
        }
    }

    void byteUnicodeMapIsABijection() {
        const ByteUnicodeMap& m = ByteUnicodeMap::instance();
        std::string all;
        for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
        QCOMPARE(m.decode(m.encode(all)), all);
        QCOMPARE(m.encode(std::string_view(" ")), std::string("Ġ"));
        QCOMPARE(m.encode(std::string_view("\n")), std::string("Ċ"));
    }
};

QTEST_GUILESS_MAIN(TestTokenizerBpe)
#include "tst_tokenizer_bpe.moc"
