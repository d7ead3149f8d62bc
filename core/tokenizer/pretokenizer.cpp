#include "core/tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <iostream>

#include "core/util/error.h"

namespace scalebits::tokenizer {

struct RegexSplitter::Compiled {
    pcre2_code* code = nullptr;
    ~Compiled() { pcre2_code_free(code); }
};

RegexSplitter::RegexSplitter(const std::string& pattern, const std::string& source)
    : compiled_(std::make_unique<Compiled>()), pattern_(pattern), source_(source) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    // UCP makes \s, \d and friends Unicode-aware like the Rust/Oniguruma engines the vocabularies
    // were built with; MATCH_INVALID_UTF lets malformed input through (its bytes simply never match
    // and end up as pieces of their own) instead of failing the whole encode.
    compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
    if (!compiled_->code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error, message, sizeof message);
        throw InputError(source, "pre-tokenizer pattern does not compile at offset " + std::to_string(offset) +
                                     ": " + reinterpret_cast<const char*>(message));
    }
    // JIT is an optional speed-up; the interpreter gives the same matches when it is unavailable.
    pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE);
}

RegexSplitter::~RegexSplitter() = default;
RegexSplitter::RegexSplitter(RegexSplitter&&) noexcept = default;
RegexSplitter& RegexSplitter::operator=(RegexSplitter&&) noexcept = default;

void RegexSplitter::split(std::string_view text, std::vector<std::string_view>& out) const {
    const std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> holder(
        pcre2_match_data_create_from_pattern(compiled_->code, nullptr), pcre2_match_data_free);
    if (!holder) throw std::bad_alloc();
    pcre2_match_data* md = holder.get();
    std::size_t start = 0;  // where the next gap begins
    std::size_t pos = 0;    // where matching resumes
    while (pos < text.size()) {
        int rc = pcre2_match(compiled_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos, 0, md,
                             nullptr);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
            // The JIT's small stack can run out on very long runs; the interpreter uses the heap.
            rc = pcre2_match(compiled_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos,
                             PCRE2_NO_JIT, md, nullptr);
        }
        if (rc == PCRE2_ERROR_NOMATCH) break;  // the rest is one gap
        if (rc < 0) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(rc, message, sizeof message);
            throw InputError(source_, "pre-tokenizer pattern failed on the text: " +
                                          std::string(reinterpret_cast<const char*>(message)));
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const std::size_t b = ov[0], e = ov[1];
        if (e == b) {
            // An empty match (no pattern here has one, but a tokenizer.json may): step over one
            // character so the loop always advances; the skipped text stays in the pending gap.
            pos = b + 1;
            while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
            continue;
        }
        if (b > start) out.push_back(text.substr(start, b - start));
        out.push_back(text.substr(b, e - b));
        pos = e;
        start = e;
    }
    if (start < text.size()) out.push_back(text.substr(start));
}

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
    std::vector<std::string_view> pieces{text};
    std::vector<std::string_view> next;
    for (const RegexSplitter& step : steps_) {
        next.clear();
        for (std::string_view p : pieces) step.split(p, next);
        pieces.swap(next);
    }
    return pieces;
}

GgufPreSpec gguf_pre_spec(const std::string& pre_name) {
    GgufPreSpec spec;
    if (pre_name == "smollm") {
        // SmolLM2: Digits(individual_digits) then ByteLevel's GPT-2 regex.
        spec.splits = {patterns::single_digit, patterns::gpt2};
    } else if (pre_name == "llama3" || pre_name == "llama-bpe") {
        spec.splits = {patterns::llama3};
        spec.ignore_merges = true;
    } else if (pre_name == "qwen2") {
        spec.splits = {patterns::qwen2};
        spec.nfc = true;
    } else {
        spec.splits = {patterns::gpt2};
        spec.known = pre_name == "default" || pre_name == "gpt2" || pre_name == "gpt-2";
    }
    return spec;
}

GgufPreTokenizer make_gguf_pretokenizer(const std::string& pre_name, const std::string& source) {
    GgufPreTokenizer result;
    result.spec = gguf_pre_spec(pre_name);
    if (!result.spec.known)
        std::cerr << "warning: " << source << ": unknown tokenizer pre-tokenizer \"" << pre_name
                  << "\", using GPT-2's; token ids may differ from the reference tokenizer\n";
    for (const char* pattern : result.spec.splits) result.pre.add_split(pattern, source);
    return result;
}

}  // namespace scalebits::tokenizer
