// Safetensors reader: valid single files and sharded folders, and one case per way a file can be
// broken. Every broken case must throw FormatError naming the file and the problem, never crash.
#include <QtTest>

#include <random>

#include "core/io/ggml_dequant.h"
#include "core/io/safetensors.h"
#include "core/io/safetensors_writer.h"
#include "core/util/cancel.h"
#include "core/util/error.h"
#include "safetensors_fixture.h"

using namespace scalebits;
using namespace scalebits::testing;
namespace fs = std::filesystem;

class TestSafetensors : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    fs::path dir() const { return fs::path(tmp_.path().toStdString()); }

    // Writes bytes to a fresh file and expects read_safetensors to throw with `needle` in the message.
    void expect_error(const Bytes& b, const std::string& needle) {
        static int n = 0;
        const fs::path p = dir() / ("broken" + std::to_string(n++) + ".safetensors");
        write_file(p, b);
        try {
            io::read_safetensors(p);
            QFAIL(("accepted a broken file, expected: " + needle).c_str());
        } catch (const FormatError& e) {
            const std::string msg = e.what();
            QVERIFY2(msg.find(p.filename().string()) != std::string::npos, msg.c_str());
            QVERIFY2(msg.find(needle) != std::string::npos, (msg + "  (expected: " + needle + ")").c_str());
        }
    }

private slots:
    void initTestCase() { QVERIFY(tmp_.isValid()); }

    void readsValidFile() {
        StTensor half{"h", "F16", {2}, {}};
        put(half.data, io::ggml::fp32_to_fp16(1.5f));
        put(half.data, io::ggml::fp32_to_fp16(-2.0f));
        StTensor bf{"b", "BF16", {1}, {}};
        put<std::uint16_t>(bf.data, 0x3F80);  // 1.0 in bfloat16
        const auto b = safetensors_bytes({f32_tensor("w", {2, 3}, {1, 2, 3, 4, 5, 6}), half, bf}, {{"format", "pt"}});
        const fs::path p = dir() / "ok.safetensors";
        write_file(p, b);
        const io::SafetensorsFile f = io::read_safetensors(p);
        QCOMPARE(f.metadata.at("format"), std::string("pt"));
        QCOMPARE(f.tensors.size(), std::size_t(3));
        QCOMPARE(f.tensors[0].name, std::string("w"));
        QCOMPARE(f.tensors[0].shape, (std::vector<std::int64_t>{2, 3}));
        QCOMPARE(f.tensors[0].to_float(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
        QCOMPARE(f.tensors[1].to_float(), (std::vector<float>{1.5f, -2.0f}));
        QCOMPARE(f.tensors[2].to_float(), (std::vector<float>{1.0f}));
        QVERIFY(f.tensors[0].owner != nullptr);
    }

    void emptyHeaderAndZeroSizedTensor() {
        // An empty object is a valid file; so is a tensor with a zero dimension and no bytes.
        const fs::path p = dir() / "empty.safetensors";
        write_file(p, safetensors_raw("{}", {}));
        QCOMPARE(io::read_safetensors(p).tensors.size(), std::size_t(0));
        write_file(p, safetensors_raw(R"({"z":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]}})", {}));
        QCOMPARE(io::read_safetensors(p).tensors.at(0).numel(), std::int64_t(0));
    }

    void truncatedFile() {
        expect_error({1, 2, 3}, "shorter than the 8-byte");
        auto b = safetensors_bytes({f32_tensor("w", {4}, {1, 2, 3, 4})});
        b.resize(b.size() - 4);
        expect_error(b, "past the end");
    }

    void headerLengthBeyondFile() {
        Bytes b;
        put<std::uint64_t>(b, 1000);
        put_bytes(b, "{}", 2);
        expect_error(b, "runs past the end of the file");
    }

    void headerLengthAbsurd() {
        Bytes b;
        put<std::uint64_t>(b, ~0ull);
        put_bytes(b, "{}", 2);
        expect_error(b, "exceeds the 100 MB limit");
    }

    void brokenHeaders_data() {
        QTest::addColumn<QString>("header");
        QTest::addColumn<int>("data_bytes");
        QTest::addColumn<QString>("needle");
        QTest::newRow("non-object") << R"([1, 2])" << 0 << "does not start with '{'";
        QTest::newRow("leading space") << R"( {})" << 0 << "does not start with '{'";
        QTest::newRow("empty header") << "" << 0 << "does not start with '{'";
        QTest::newRow("not json") << R"({"a": )" << 0 << "invalid JSON";
        QTest::newRow("bad utf8") << QString::fromLatin1("{\"a\xff\": 1}") << 0 << "invalid JSON";
        QTest::newRow("entry not object") << R"({"a": 3})" << 0 << "not a JSON object";
        QTest::newRow("unknown dtype") << R"({"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})" << 1
                                       << "unknown or unsupported dtype 'Q4'";
        QTest::newRow("missing shape") << R"({"a":{"dtype":"F32","data_offsets":[0,4]}})" << 4 << "missing 'shape'";
        QTest::newRow("negative dim") << R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})" << 4
                                      << "non-negative integer";
        QTest::newRow("float dim") << R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})" << 4
                                   << "non-negative integer";
        QTest::newRow("offsets arity") << R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})" << 4
                                       << "data_offsets must be [begin, end]";
        QTest::newRow("backwards") << R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})" << 4
                                   << "end before begin";
        QTest::newRow("size mismatch") << R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})" << 4
                                       << "shape and dtype need 8";
        QTest::newRow("overflow")
            << R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}})" << 0 << "overflows 64 bits";
        QTest::newRow("overflow via elem size")
            << R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})" << 0 << "overflows 64 bits";
        QTest::newRow("overlap") << R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})"
                                 << 8 << "overlaps";
        QTest::newRow("gap") << R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})"
                             << 12 << "gap of 4 bytes";
        QTest::newRow("leading gap") << R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})" << 8 << "gap";
        QTest::newRow("trailing") << R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})" << 6
                                  << "2 trailing bytes";
        QTest::newRow("past end") << R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})" << 4 << "past the end";
        QTest::newRow("duplicate name") << R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                           R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})"
                                        << 2 << "duplicate JSON key 'a'";
        QTest::newRow("metadata not strings") << R"({"__metadata__":{"k":1}})" << 0 << "is not a string";
        QTest::newRow("metadata not object") << R"({"__metadata__":[1]})" << 0 << "__metadata__ is not a JSON object";
    }

    void brokenHeaders() {
        QFETCH(QString, header);
        QFETCH(int, data_bytes);
        QFETCH(QString, needle);
        const QByteArray h = header.toLatin1();
        expect_error(safetensors_raw(std::string(h.constData(), h.size()), Bytes(data_bytes, 0)), needle.toStdString());
    }

    void shardedFolder() {
        const fs::path m = dir() / "sharded";
        fs::create_directories(m);
        write_file(m / "model-00001-of-00002.safetensors", safetensors_bytes({f32_tensor("a", {2}, {1, 2})}));
        write_file(m / "model-00002-of-00002.safetensors", safetensors_bytes({f32_tensor("b", {1}, {3})}));
        write_text(m / "model.safetensors.index.json",
                   R"({"metadata":{"total_size":12},"weight_map":{"a":"model-00001-of-00002.safetensors",)"
                   R"("b":"model-00002-of-00002.safetensors"}})");
        const auto f = io::read_safetensors_model(m);
        QCOMPARE(f.tensors.size(), std::size_t(2));
        std::map<std::string, std::vector<float>> got;
        for (const auto& t : f.tensors) got[t.name] = t.to_float();
        QCOMPARE(got["a"], (std::vector<float>{1, 2}));
        QCOMPARE(got["b"], (std::vector<float>{3}));
    }

    void shardIndexBroken_data() {
        QTest::addColumn<QString>("index");
        QTest::addColumn<QString>("needle");
        QTest::newRow("escapes folder") << R"({"weight_map":{"a":"../outside.safetensors"}})" << "outside the model folder";
        QTest::newRow("absolute") << R"({"weight_map":{"a":"/etc/passwd"}})" << "not a relative path";
        QTest::newRow("missing shard") << R"({"weight_map":{"a":"nope.safetensors"}})" << "does not exist";
        QTest::newRow("tensor absent") << R"({"weight_map":{"a":"s.safetensors","zz":"s.safetensors"}})"
                                       << "'zz' is missing from shard";
        QTest::newRow("unlisted tensor") << R"({"weight_map":{"zz":"s.safetensors"}})" << "not listed";
        QTest::newRow("no weight_map") << R"({"metadata":{}})" << "weight_map";
        QTest::newRow("duplicate key") << R"({"weight_map":{"a":"s.safetensors","a":"s.safetensors"}})"
                                       << "duplicate JSON key";
        QTest::newRow("not an object") << "[1, 2]" << "not a JSON object";
        QTest::newRow("bad utf8") << QString::fromLatin1("{\"weight_map\":{\"a\xff\":\"s.safetensors\"}}") << "JSON";
        QTest::newRow("shard not a string") << R"({"weight_map":{"a":5}})" << "is not a string";
        QTest::newRow("empty weight_map") << R"({"weight_map":{}})" << "weight_map is empty";
    }

    void shardIndexBroken() {
        QFETCH(QString, index);
        QFETCH(QString, needle);
        const fs::path m = dir() / ("idx_" + std::string(QTest::currentDataTag()));
        fs::create_directories(m);
        write_file(m / "s.safetensors", safetensors_bytes({f32_tensor("a", {1}, {1})}));
        write_file(dir() / "outside.safetensors", safetensors_bytes({f32_tensor("a", {1}, {1})}));
        write_text(m / "model.safetensors.index.json", std::string(index.toLatin1().constData()));
        try {
            io::read_safetensors_model(m);
            QFAIL("accepted a broken index");
        } catch (const InputError& e) {
            QVERIFY2(std::string(e.what()).find(needle.toStdString()) != std::string::npos, e.what());
            // The index, or the shard whose contents disagree with it.
            const std::string file = e.file().filename().string();
            QVERIFY2(file == "model.safetensors.index.json" || file == "s.safetensors", e.what());
        }
    }

    void mutatedFilesNeverCrash() {
        // Random byte edits of a valid file: parse either succeeds or throws FormatError.
        StTensor half{"h", "F16", {4}, Bytes(8, 0x3C)};
        const Bytes good = safetensors_bytes({f32_tensor("w", {2, 3}, {1, 2, 3, 4, 5, 6}), half}, {{"k", "v"}});
        std::mt19937 rng(99);
        for (int round = 0; round < 3000; ++round) {
            Bytes b = good;
            const int edits = 1 + static_cast<int>(rng() % 3);
            for (int e = 0; e < edits; ++e) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
            if (round % 5 == 0) b.resize(rng() % b.size());
            try {
                const auto f = io::parse_safetensors(b, nullptr, "fuzz.safetensors");
                for (const auto& t : f.tensors) (void)t.to_float();
            } catch (const FormatError&) {
            }
        }
    }

    void folderWithoutWeights() {
        const fs::path m = dir() / "nothing";
        fs::create_directories(m);
        QVERIFY_THROWS_EXCEPTION(InputError, io::read_safetensors_model(m));
    }

    // A cancelled write (the token is looked at before every 64 MiB piece of a multi-gigabyte
    // export) throws CancelledError: the earlier file under the name stays as it was and no
    // temporary file is left.
    void cancelledWriteKeepsTheEarlierFile() {
        const fs::path folder = dir() / "cancel";
        fs::create_directories(folder);
        const fs::path p = folder / "model.safetensors";
        io::SafetensorsWriter old;
        old.add_f32("w", {2}, {1.0f, 2.0f});
        old.write(p);

        CancelToken token;
        token.cancel();
        Progress progress;
        progress.token = &token;
        io::SafetensorsWriter w;
        w.add_f32("big", {1 << 20}, std::vector<float>(1 << 20, 0.5f));
        QVERIFY_THROWS_EXCEPTION(CancelledError, w.write(p, progress));
        QCOMPARE(io::read_safetensors(p).tensors.at(0).to_float(), (std::vector<float>{1.0f, 2.0f}));
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(folder)) names.push_back(e.path().filename().string());
        QCOMPARE(names, std::vector<std::string>{"model.safetensors"});
    }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "tst_safetensors.moc"
