// llama2.c tokenizer.bin: int32 max_token_length, then per token float score, int32 length, bytes.
// The file does not store its token count; the model's vocab_size says how many to read.
#include <cstring>

#include "core/io/mapped_file.h"
#include "core/tokenizer/factory.h"
#include "core/tokenizer/spm_tokenizer.h"
#include "core/util/error.h"

namespace scalebits::tokenizer {

namespace {

struct Reader {
    const std::uint8_t* data;
    std::size_t size, pos = 0;
    bool has(std::size_t n) const { return n <= size - pos; }
    template <class T>
    T take() {
        T v;
        std::memcpy(&v, data + pos, sizeof v);
        pos += sizeof v;
        return v;
    }
};

}  // namespace

std::shared_ptr<const Tokenizer> load_llama2c_tokenizer(const std::filesystem::path& path, std::int32_t vocab_size) {
    if (vocab_size <= 0) throw InputError(path, "vocab_size must be positive, got " + std::to_string(vocab_size));
    const auto file = io::MappedFile::open(path);
    Reader r{file->data(), file->size()};
    if (!r.has(4)) throw FormatError(path, "is too short for a llama2.c tokenizer (no max_token_length)");
    const auto max_len = r.take<std::int32_t>();
    if (max_len <= 0) throw FormatError(path, "max_token_length is " + std::to_string(max_len));

    SpmSpec spec;
    spec.flavor = SpmSpec::Flavor::Llama2c;
    spec.source = path.string();
    spec.tokens.reserve(static_cast<std::size_t>(vocab_size));
    spec.scores.reserve(static_cast<std::size_t>(vocab_size));
    const auto read_token = [&](std::int32_t i, bool required) -> bool {
        if (!r.has(8)) {
            if (!required) return false;
            throw FormatError(path, "ends inside token " + std::to_string(i) + " of " + std::to_string(vocab_size) +
                                        " (truncated, or fewer tokens than the model's vocab_size)");
        }
        const auto score = r.take<float>();
        const auto len = r.take<std::int32_t>();
        if (len < 0) throw FormatError(path, "token " + std::to_string(i) + " has negative length " + std::to_string(len));
        if (!r.has(static_cast<std::size_t>(len)))
            throw FormatError(path, "token " + std::to_string(i) + " of length " + std::to_string(len) +
                                        " runs past the end of the file");
        if (required) {
            spec.scores.push_back(score);
            spec.tokens.emplace_back(reinterpret_cast<const char*>(r.data + r.pos), static_cast<std::size_t>(len));
        }
        r.pos += static_cast<std::size_t>(len);
        return true;
    };
    for (std::int32_t i = 0; i < vocab_size; ++i) read_token(i, true);
    if (r.pos != r.size) {
        // More bytes: count whole extra tokens so the message says what the file really holds.
        std::int32_t extra = 0;
        try {
            while (r.pos < r.size && read_token(vocab_size + extra, false)) ++extra;
        } catch (const FormatError&) {
        }
        if (r.pos == r.size)
            throw FormatError(path, "holds " + std::to_string(vocab_size + extra) + " tokens but the model's vocab_size is " +
                                        std::to_string(vocab_size));
        throw FormatError(path, "has " + std::to_string(r.size - r.pos) + " unexpected bytes after token " +
                                    std::to_string(vocab_size + extra - 1));
    }
    // llama2.c's fixed ids: 0 <unk>, 1 BOS, 2 EOS.
    spec.unk_id = 0;
    spec.bos_id = vocab_size > 1 ? 1 : -1;
    spec.eos_id = vocab_size > 2 ? 2 : -1;
    spec.add_space_prefix = true;
    return std::make_shared<SpmTokenizer>(std::move(spec));
}

}  // namespace scalebits::tokenizer
