#pragma once
// Pre-tokenization for byte-level BPE: the text is cut into words by one or more regular expressions
// (PCRE2, UTF + Unicode properties) before merges run, so merges never cross a word boundary.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace scalebits::tokenizer {

// The split patterns of the vocabularies we meet (exactly as their tokenizer.json / llama.cpp use them).
namespace patterns {
// GPT-2's word pattern (also SmolLM2's after its digit split).
inline constexpr const char* gpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama-3's word pattern (case-insensitive contractions, numbers in groups of up to three).
inline constexpr const char* llama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2/Qwen3's word pattern: Llama 3's with single digits.
inline constexpr const char* qwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Hugging Face's Digits(individual_digits=true) / (false).
inline constexpr const char* single_digit = R"(\p{N})";
inline constexpr const char* digit_runs = R"(\p{N}+)";
}  // namespace patterns

// One compiled pattern. Splitting keeps both the matches and the text between them as pieces (the
// "Isolated" behaviour of Hugging Face's Split), so no byte is ever lost.
class RegexSplitter {
public:
    // Throws InputError naming `source` when the pattern does not compile.
    RegexSplitter(const std::string& pattern, const std::string& source);
    ~RegexSplitter();
    RegexSplitter(RegexSplitter&&) noexcept;
    RegexSplitter& operator=(RegexSplitter&&) noexcept;
    RegexSplitter(const RegexSplitter&) = delete;
    RegexSplitter& operator=(const RegexSplitter&) = delete;

    // Appends the pieces of `text` to `out`; the views point into `text`.
    void split(std::string_view text, std::vector<std::string_view>& out) const;
    const std::string& pattern() const { return pattern_; }

private:
    struct Compiled;
    std::unique_ptr<Compiled> compiled_;
    std::string pattern_;
    std::string source_;  // for error messages
};

// A sequence of splitters, each refining the pieces of the one before.
class PreTokenizer {
public:
    void add_split(const std::string& pattern, const std::string& source) { steps_.emplace_back(pattern, source); }
    std::vector<std::string_view> split(std::string_view text) const;
    bool empty() const { return steps_.empty(); }

private:
    std::vector<RegexSplitter> steps_;
};

// The pre-tokenizer llama.cpp names by tokenizer.ggml.pre ("smollm", "llama3", "default", ...), as
// the split patterns and switches it stands for. Unknown names get GPT-2's pattern. ignore_merges is
// set for vocabularies trained with Hugging Face's ignore_merges (Llama-3): whole words in the vocab
// are taken as they are.
struct GgufPreSpec {
    std::vector<const char*> splits;  // patterns, applied in order (each an Isolated split)
    bool ignore_merges = false;
    bool nfc = false;  // Qwen2's tokenizer.json normalizes to NFC first (llama.cpp does not; we follow the reference)
    bool known = true;  // false: an unknown name, given GPT-2's pattern
};
GgufPreSpec gguf_pre_spec(const std::string& pre_name);

// The spec's splits built (an unknown name is warned about on stderr, naming `source`).
struct GgufPreTokenizer {
    PreTokenizer pre;
    GgufPreSpec spec;
};
GgufPreTokenizer make_gguf_pretokenizer(const std::string& pre_name, const std::string& source);

}  // namespace scalebits::tokenizer
