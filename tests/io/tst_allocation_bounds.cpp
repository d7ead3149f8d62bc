// No parser allocates for what a file merely claims. Every parser is run on its fuzz seed with
// numbers replaced by hostile ones (2^62, 2^64 - 1, -1, 1e308, int32 and int64 maxima written over
// every byte offset of the binary headers, and over every number of the JSON texts and safetensors
// headers); this binary replaces the global operator new to record the largest single allocation
// made while a parser runs. It must stay proportional to the bytes actually present: at most 16
// times the file plus 1 MiB (a Q4 block dequantizes to 7 times its size, a JSON value takes a
// 16-byte node; the largest seen is fp16 decoding's one-time 256 KiB table), where a trusted count
// of 2^31 or more would allocate gigabytes. Each run must also either succeed or throw the
// project's InputError.
#include <QtTest>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <new>
#include <regex>

#include "core/analysis/analysis_file.h"
#include "core/io/gguf.h"
#include "core/io/gguf_llama.h"
#include "core/io/hf_config.h"
#include "core/io/json_strict.h"
#include "core/io/llama2c.h"
#include "core/io/packed_export.h"
#include "core/io/safetensors.h"
#include "core/io/safetensors_writer.h"
#include "core/tokenizer/factory.h"
#include "core/util/error.h"

namespace {
std::atomic<bool> g_tracking{false};
std::atomic<std::size_t> g_largest{0};

void record(std::size_t n) {
    if (!g_tracking.load(std::memory_order_relaxed)) return;
    std::size_t cur = g_largest.load(std::memory_order_relaxed);
    while (n > cur && !g_largest.compare_exchange_weak(cur, n)) {
    }
}
void* tracked_alloc(std::size_t n) noexcept {
    record(n);
    return std::malloc(n ? n : 1);
}
void* tracked_aligned_alloc(std::size_t n, std::align_val_t a) noexcept {
    record(n);
    const auto al = static_cast<std::size_t>(a);
    if (n > SIZE_MAX - al) return nullptr;
    return std::aligned_alloc(al, (std::max<std::size_t>(n, 1) + al - 1) / al * al);
}
void* or_throw(void* p) {
    if (!p) throw std::bad_alloc();
    return p;
}
}  // namespace

// Every replaceable form, so that what is allocated here is also freed here (and under ASan no
// allocation of its own operator new reaches this free).
void* operator new(std::size_t n) { return or_throw(tracked_alloc(n)); }
void* operator new[](std::size_t n) { return or_throw(tracked_alloc(n)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return tracked_alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return tracked_alloc(n); }
void* operator new(std::size_t n, std::align_val_t a) { return or_throw(tracked_aligned_alloc(n, a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return or_throw(tracked_aligned_alloc(n, a)); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return tracked_aligned_alloc(n, a); }
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return tracked_aligned_alloc(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

using namespace scalebits;
namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

const fs::path kSeeds = fs::path(SCALEBITS_SOURCE_DIR) / "fuzz" / "seeds";

Bytes read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& p, const Bytes& b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// Binary headers: each pattern written at every offset of the first `span` bytes.
std::vector<Bytes> binary_mutations(const Bytes& seed, std::size_t span) {
    const Bytes patterns[] = {
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},  // 2^64 - 1 (and -1)
        {0xff, 0xff, 0xff, 0x7f},                          // int32 max
        {0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00},  // 2^40
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},  // int64 max
    };
    std::vector<Bytes> out;
    for (std::size_t at = 0; at < std::min(span, seed.size()); ++at)
        for (const Bytes& p : patterns) {
            Bytes b = seed;
            for (std::size_t i = 0; i < p.size() && at + i < b.size(); ++i) b[at + i] = p[i];
            out.push_back(std::move(b));
        }
    return out;
}

// Text: every number replaced, one at a time, by each hostile value. Digits inside words (hex
// checksums, dtype names such as F32) are not numbers.
std::vector<std::string> text_mutations(const std::string& text) {
    static const char* values[] = {"4611686018427387904", "18446744073709551615", "-1", "1e308", "0", "2147483648"};
    std::vector<std::string> out;
    static const std::regex number("-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?");
    auto word = [&](std::ptrdiff_t at) {
        return at >= 0 && at < static_cast<std::ptrdiff_t>(text.size()) && std::isalnum(static_cast<unsigned char>(text[static_cast<std::size_t>(at)]));
    };
    for (auto it = std::sregex_iterator(text.begin(), text.end(), number); it != std::sregex_iterator(); ++it) {
        if (word(it->position() - 1) || word(it->position() + it->length())) continue;
        for (const char* v : values) {
            std::string t = text;
            t.replace(static_cast<std::size_t>(it->position()), static_cast<std::size_t>(it->length()), v);
            out.push_back(std::move(t));
        }
    }
    return out;
}

// A safetensors container with its JSON header mutated as text and the length prefix rewritten.
std::vector<Bytes> header_mutations(const Bytes& seed) {
    std::uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= std::uint64_t(seed[static_cast<std::size_t>(i)]) << (8 * i);
    const std::string header(seed.begin() + 8, seed.begin() + 8 + static_cast<std::ptrdiff_t>(n));
    std::vector<Bytes> out;
    for (const std::string& h : text_mutations(header)) {
        Bytes b(8);
        for (int i = 0; i < 8; ++i) b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(h.size() >> (8 * i));
        b.insert(b.end(), h.begin(), h.end());
        b.insert(b.end(), seed.begin() + 8 + static_cast<std::ptrdiff_t>(n), seed.end());
        out.push_back(std::move(b));
    }
    return out;
}

struct Outcome {
    int inputs = 0, accepted = 0;
    std::size_t worst_ratio_input = 0;
    double worst = 0;  // largest allocation / allowed
};

}  // namespace

// One data row per seed file of a fuzz target's folder.
void seed_rows(const char* target, const char* column = "seed") {
    QTest::addColumn<QString>(column);
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(kSeeds / target)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) QTest::newRow(f.filename().string().c_str()) << QString::fromStdString(f.string());
}

class TestAllocationBounds : public QObject {
    Q_OBJECT

    QTemporaryDir tmp_;
    fs::path dir() const { return fs::path(tmp_.path().toStdString()); }

    // Writes each input to `file`, runs `parse` with the allocation record on, and checks the bound
    // and the error type.
    void run(const char* what, const std::vector<Bytes>& inputs, const fs::path& file,
             const std::function<void(const fs::path&)>& parse) {
        Outcome o;
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            write_bytes(file, inputs[i]);
            g_largest = 0;
            g_tracking = true;
            bool ok = true;
            try {
                parse(file);
            } catch (const InputError&) {
                ok = false;
            } catch (const std::exception& e) {
                g_tracking = false;
                QFAIL(qPrintable(QStringLiteral("%1 input %2: untyped error: %3").arg(what).arg(i).arg(e.what())));
            }
            g_tracking = false;
            const double allowed = 16.0 * static_cast<double>(inputs[i].size()) + (1 << 20);
            const double ratio = static_cast<double>(g_largest.load()) / allowed;
            ++o.inputs;
            o.accepted += ok;
            if (ratio > o.worst) {
                o.worst = ratio;
                o.worst_ratio_input = i;
            }
            if (ratio > 1.0)
                QFAIL(qPrintable(QStringLiteral("%1 input %2 (%3 bytes): one allocation of %4 bytes")
                                     .arg(what).arg(i).arg(inputs[i].size()).arg(g_largest.load())));
        }
        qInfo("%s: %d hostile inputs, %d accepted, largest allocation %.3f of the bound (input %zu)", what, o.inputs,
              o.accepted, o.worst, o.worst_ratio_input);
    }

    static std::vector<Bytes> as_bytes(const std::vector<std::string>& texts) {
        std::vector<Bytes> out;
        for (const auto& t : texts) out.emplace_back(t.begin(), t.end());
        return out;
    }
    static std::string text_of(const fs::path& p) {
        const Bytes b = read_bytes(p);
        return std::string(b.begin(), b.end());
    }

private slots:
    void initTestCase() { QVERIFY(tmp_.isValid()); }

    void safetensors() {
        const Bytes seed = read_bytes(kSeeds / "fuzz_safetensors" / "two_tensors.safetensors");
        auto inputs = binary_mutations(seed, 64);
        const auto more = header_mutations(seed);
        inputs.insert(inputs.end(), more.begin(), more.end());
        run("safetensors", inputs, dir() / "st.safetensors", [](const fs::path& p) {
            for (const auto& t : io::read_safetensors(p).tensors) (void)t.to_float();
        });
    }

    // Every GGUF seed (llama with SentencePiece vocabulary; qwen3 with head norms; llama with biases
    // and rope_freqs): the first 1 KiB, where the counts, key/value pairs and tensor infos are.
    void gguf_data() { seed_rows("fuzz_gguf"); }
    void gguf() {
        QFETCH(QString, seed);
        const auto parse = [](const fs::path& p) {
            const Bytes b = read_bytes(p);  // the size of the file: inside the bound
            const auto f = io::parse_gguf(b, nullptr, p);
            if (auto vocab = io::gguf_vocab(f)) (void)tokenizer::make_gguf_tokenizer(*vocab, p);
            (void)io::gguf_to_llama(f);
        };
        parse(seed.toStdString());  // the seed itself is valid
        run("gguf", binary_mutations(read_bytes(seed.toStdString()), 1024), dir() / "m.gguf", parse);
    }

    void llama2c() {
        run("llama2.c model", binary_mutations(read_bytes(kSeeds / "fuzz_llama2c" / "tiny.bin"), 64), dir() / "m.bin",
            [](const fs::path& p) { (void)io::read_llama2c(p); });
        run("llama2.c tokenizer", binary_mutations(read_bytes(kSeeds / "fuzz_llama2c" / "tokenizer.bin"), 64),
            dir() / "tok.bin", [](const fs::path& p) { (void)tokenizer::load_llama2c_tokenizer(p, 4); });
    }

    // Every config.json seed (each family's switches) and every tokenizer.json seed (byte-level,
    // Qwen's NFC + Split, SentencePiece with Metaspace or the legacy normalizer).
    void configJson_data() { seed_rows("fuzz_config_json"); }
    void configJson() {
        QFETCH(QString, seed);
        const auto parse = [](const fs::path& p) {
            const std::string t = text_of(p);
            (void)io::hf_config_from_json(io::parse_json_strict(t, "config.json"), "config.json");
        };
        parse(seed.toStdString());
        run("config.json", as_bytes(text_mutations(text_of(seed.toStdString()))), dir() / "config.json", parse);
    }
    void tokenizerJson_data() { seed_rows("fuzz_tokenizer_json"); }
    void tokenizerJson() {
        QFETCH(QString, seed);
        const auto parse = [](const fs::path& p) { (void)tokenizer::load_tokenizer_json(p)->encode("he llo 1", false); };
        const fs::path copy = dir() / "seed" / "tokenizer.json";  // alone in its folder: no tokenizer_config.json
        fs::create_directories(copy.parent_path());
        fs::copy_file(seed.toStdString(), copy, fs::copy_options::overwrite_existing);
        parse(copy);
        run("tokenizer.json", as_bytes(text_mutations(text_of(seed.toStdString()))), dir() / "tokenizer.json", parse);
    }

    void shardedIndex() {
        const fs::path folder = dir() / "sharded";
        fs::create_directories(folder);
        io::SafetensorsWriter first, second;
        first.add_f32("a", {2}, {1.0f, 2.0f});
        first.add_f32("b", {3}, {3.0f, 4.0f, 5.0f});
        second.add_f32("c", {5}, {6.0f, 7.0f, 8.0f, 9.0f, 10.0f});
        first.write(folder / "model-00001-of-00002.safetensors");
        second.write(folder / "model-00002-of-00002.safetensors");
        const auto seed = text_of(kSeeds / "fuzz_sharded_index" / "two_shards.json");
        write_bytes(folder / "model.safetensors.index.json", Bytes(seed.begin(), seed.end()));
        QCOMPARE(io::read_safetensors_model(folder).tensors.size(), std::size_t(3));  // the seed itself is valid
        run("sharded index", as_bytes(text_mutations(seed)), folder / "model.safetensors.index.json",
            [&](const fs::path&) { (void)io::read_safetensors_model(folder); });
    }

    void analysisFile_data() { seed_rows("fuzz_analysis", "seed_file"); }
    void analysisFile() {
        QFETCH(QString, seed_file);
        const Bytes seed = read_bytes(seed_file.toStdString());
        auto inputs = header_mutations(seed);
        const auto more = binary_mutations(seed, 16);
        inputs.insert(inputs.end(), more.begin(), more.end());
        run("analysis file", inputs, dir() / "a.sba", [](const fs::path& p) { (void)analysis::load_analysis(p); });
    }

    void exportFormat() {
        const fs::path folder = dir() / "export";
        fs::create_directories(folder);
        // stories260K's config beside the seed's model.safetensors (as the export fuzz target does).
        std::ofstream(folder / "config.json")
            << R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":64,"intermediate_size":172,)"
               R"("num_hidden_layers":5,"num_attention_heads":8,"num_key_value_heads":4,"vocab_size":512,)"
               R"("max_position_embeddings":512,"rms_norm_eps":1e-5,"tie_word_embeddings":true,)"
               R"("quantization_config":{"quant_method":"scalebits","format_version":1}})";
        const Bytes seed = read_bytes(kSeeds / "fuzz_export" / "stories260k-3bpw.safetensors");
        auto inputs = header_mutations(seed);
        const auto more = binary_mutations(seed, 16);
        inputs.insert(inputs.end(), more.begin(), more.end());
        run("export", inputs, folder / "model.safetensors", [&](const fs::path&) { (void)io::read_packed_export(folder); });
    }
};

QTEST_APPLESS_MAIN(TestAllocationBounds)
#include "tst_allocation_bounds.moc"
