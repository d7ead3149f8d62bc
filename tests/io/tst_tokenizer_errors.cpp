// Broken tokenizer.json files and GGUF vocabularies: each must throw FormatError/InputError naming
// the file and the problem, never crash or tokenize silently wrong.
#include <QtTest>

#include "core/tokenizer/factory.h"
#include "core/util/error.h"
#include "tst_tokenizer_util.h"

using namespace scalebits::tokenizer;
using nlohmann::json;

namespace {

json small_tokenizer_json() {
    return json::parse(R"({
      "added_tokens": [{"id": 4, "content": "<s>", "special": true}],
      "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
      "decoder": {"type": "ByteLevel"},
      "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3}, "merges": ["a b"]}
    })");
}

GgufVocab small_gguf_vocab() {
    GgufVocab v;
    v.model = "gpt2";
    v.pre = "default";
    v.tokens = {"a", "b", "ab", "<|end|>"};
    v.token_types = {1, 1, 1, 3};
    v.merges = {"a b"};
    v.eos_id = 3;
    return v;
}

}  // namespace

class TestTokenizerErrors : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dir_;

    void expect_json_error(const std::string& bytes, const char* needle) {
        const auto path = std::filesystem::path(dir_.path().toStdString()) / "tokenizer.json";
        tokenizer_test::write_file(path, bytes);
        try {
            load_tokenizer_json(path);
            QFAIL(qPrintable(QStringLiteral("no error, expected one about: %1").arg(QLatin1String(needle))));
        } catch (const scalebits::InputError& e) {
            const std::string msg = e.what();
            QVERIFY2(msg.find(path.string()) != std::string::npos, msg.c_str());
            QVERIFY2(msg.find(needle) != std::string::npos, msg.c_str());
        }
    }

    void expect_gguf_error(const GgufVocab& v, const char* needle) {
        try {
            make_gguf_tokenizer(v, "model.gguf");
            QFAIL(qPrintable(QStringLiteral("no error, expected one about: %1").arg(QLatin1String(needle))));
        } catch (const scalebits::FormatError& e) {
            const std::string msg = e.what();
            QVERIFY2(msg.find("model.gguf") != std::string::npos, msg.c_str());
            QVERIFY2(msg.find(needle) != std::string::npos, msg.c_str());
        }
    }

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void validSmallFilesLoad() {
        const auto path = std::filesystem::path(dir_.path().toStdString()) / "tokenizer.json";
        tokenizer_test::write_file(path, small_tokenizer_json().dump());
        const auto tok = load_tokenizer_json(path);
        QCOMPARE(tok->encode("ab<s>a", false), (std::vector<std::int32_t>{2, 4, 0}));
        const auto g = make_gguf_tokenizer(small_gguf_vocab(), "model.gguf");
        QCOMPARE(g->encode("ab<|end|>", false), (std::vector<std::int32_t>{2, 3}));
    }

    void brokenTokenizerJson() {
        expect_json_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\xC3\x28\": 0}, \"merges\": []}}", "");
        expect_json_error("not json at all", "");
        expect_json_error("[1, 2]", "not a JSON object");
        expect_json_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"model\": 1}", "duplicate");

        json j = small_tokenizer_json();
        j["model"]["merges"] = {"a c"};
        expect_json_error(j.dump(), "not in the vocabulary");
        j = small_tokenizer_json();
        j["model"]["merges"] = {"b a"};
        expect_json_error(j.dump(), "makes a token that is not in the vocabulary");
        j = small_tokenizer_json();
        j["model"]["merges"] = {"ab"};
        expect_json_error(j.dump(), "not two tokens");
        j = small_tokenizer_json();
        j["model"]["merges"] = json::array({json::array({"a"})});
        expect_json_error(j.dump(), "neither");
        j = small_tokenizer_json();
        j["added_tokens"][0]["id"] = 99;
        expect_json_error(j.dump(), "out of range");
        j = small_tokenizer_json();
        j["added_tokens"][0]["id"] = 0;
        expect_json_error(j.dump(), "differs from the vocabulary");
        j = small_tokenizer_json();
        j["added_tokens"][0]["id"] = -1;
        expect_json_error(j.dump(), "out of range");
        j = small_tokenizer_json();
        j["added_tokens"][0]["id"] = 1e308;  // a float where an id belongs: no conversion to an integer
        expect_json_error(j.dump(), "an added token's id is not an integer");
        j = small_tokenizer_json();
        j["model"]["vocab"]["b"] = 7;
        expect_json_error(j.dump(), "out of range");
        j = small_tokenizer_json();
        j["model"]["vocab"]["b"] = 0;
        expect_json_error(j.dump(), "used twice");
        j = small_tokenizer_json();
        j["model"]["type"] = "Unigram";
        expect_json_error(j.dump(), "not supported");
        j = small_tokenizer_json();
        j["model"]["byte_fallback"] = true;
        expect_json_error(j.dump(), "byte_fallback");
        j = small_tokenizer_json();
        j["pre_tokenizer"] = {{"type", "Metaspace"}};
        expect_json_error(j.dump(), "Metaspace");
        j = small_tokenizer_json();
        j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
        expect_json_error(j.dump(), "does not compile");
        j = small_tokenizer_json();
        j["normalizer"] = {{"type", "NFKC"}};
        expect_json_error(j.dump(), "normalizer");
        j = small_tokenizer_json();
        j["model"]["vocab"]["a"] = "zero";
        expect_json_error(j.dump(), "integer id");
        j = small_tokenizer_json();
        j["added_tokens"][0]["content"] = 5;
        expect_json_error(j.dump(), "unexpected value");
        j = small_tokenizer_json();
        j["model"]["unk_token"] = "<unk>";
        expect_json_error(j.dump(), "unk_token");
        QVERIFY_THROWS_EXCEPTION(scalebits::InputError,
                                 load_tokenizer_json(std::filesystem::path(dir_.path().toStdString()) / "none.json"));
    }

    void everyTruncationFails() {
        const std::string good = small_tokenizer_json().dump();
        const auto path = std::filesystem::path(dir_.path().toStdString()) / "cut.json";
        for (std::size_t cut = 0; cut < good.size(); cut += 5) {
            tokenizer_test::write_file(path, good.substr(0, cut));
            QVERIFY_THROWS_EXCEPTION(scalebits::InputError, load_tokenizer_json(path));
        }
    }

    void brokenGgufVocabulary() {
        GgufVocab v = small_gguf_vocab();
        v.merges = {"a x"};
        expect_gguf_error(v, "not in the vocabulary");
        v = small_gguf_vocab();
        v.merges.clear();
        expect_gguf_error(v, "merges is missing");
        v = small_gguf_vocab();
        v.bos_id = 4;
        expect_gguf_error(v, "BOS id 4");
        v = small_gguf_vocab();
        v.eos_id = -3;
        expect_gguf_error(v, "EOS id -3");
        v = small_gguf_vocab();
        v.token_types.pop_back();
        expect_gguf_error(v, "token_type");
        v = small_gguf_vocab();
        v.tokens.clear();
        expect_gguf_error(v, "empty");
        v = small_gguf_vocab();
        v.model = "bert";
        expect_gguf_error(v, "not supported");
        v = small_gguf_vocab();
        v.model = "llama";
        expect_gguf_error(v, "scores is missing");
    }
};

QTEST_GUILESS_MAIN(TestTokenizerErrors)
#include "tst_tokenizer_errors.moc"
