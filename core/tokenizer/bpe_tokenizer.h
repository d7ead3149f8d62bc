#pragma once
// BPE with merges applied by rank, as Hugging Face tokenizers runs it. Two kinds of vocabulary:
//  - byte-level (GPT-2 family: SmolLM2, Llama 3, Qwen2/3): text -> special tokens cut out ->
//    optional NFC -> words by the pre-tokenizer -> bytes shown as printable code points -> merges;
//  - character-level with byte fallback (SentencePiece models converted to tokenizer.json: Llama 2,
//    Mistral): spaces become U+2581 (Metaspace or the legacy Prepend+Replace normalizer), merges run
//    over UTF-8 characters, and a character missing from the vocabulary becomes its <0xXX> tokens.
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/tokenizer/pretokenizer.h"
#include "core/tokenizer/special_tokens.h"
#include "core/tokenizer/tokenizer.h"

namespace scalebits::tokenizer {

// Everything a byte-level BPE needs, as plain values gathered by a loader (GGUF or tokenizer.json).
struct BpeSpec {
    std::string source;               // file name for error messages
    std::vector<std::string> tokens;  // id -> token text (byte-level printable form; specials verbatim)
    std::vector<std::string> merges;  // "left right", best rank first
    std::vector<std::int32_t> special_ids;  // ids matched verbatim in the text and decoded verbatim
    PreTokenizer pre;
    bool ignore_merges = false;     // a word that is itself a token is taken whole
    bool add_prefix_space = false;  // a space is put before text that does not start with one
    std::int32_t bos_id = -1, eos_id = -1, unk_id = -1;
    bool add_bos = false;  // generation starts with BOS by default (GGUF add_bos_token)

    // How a word becomes its first symbols: every byte as GPT-2's printable code point, or the
    // UTF-8 characters themselves (then `byte_fallback` turns a missing one into <0xXX> tokens).
    enum class Symbols { ByteLevel, Characters };
    Symbols symbols = Symbols::ByteLevel;
    bool byte_fallback = false;
    bool fuse_unk = false;  // consecutive unknown characters give one unknown token
    bool nfc = false;       // the NFC normalizer (Qwen2/3), applied to each piece of text between specials
    // SentencePiece-style spaces: ' ' -> U+2581, then a U+2581 in front of the piece: never; only
    // for the piece at the start of the text (Metaspace "first"); for every piece (Metaspace
    // "always"), unless it already starts with one; or for every non-empty piece whatever it starts
    // with (the legacy Prepend normalizer).
    enum class Prepend { Never, First, Always, Unconditional };
    bool metaspace = false;
    Prepend prepend = Prepend::Never;
    bool strip_leading_space = false;  // decoder Strip(" ", 1, 0): the text's first space is dropped
};

class BpeTokenizer final : public Tokenizer {
public:
    // Throws FormatError naming spec.source for merges that name unknown tokens and bad special ids.
    explicit BpeTokenizer(BpeSpec spec);

    std::vector<std::int32_t> encode(std::string_view text, bool add_bos) const override;
    // The bytes a token stands for; with strip_leading_space, the first token of a text (prev < 0 or
    // BOS) loses one leading space.
    std::string decode_token(std::int32_t prev, std::int32_t id) const override;
    std::int32_t vocab_size() const override { return static_cast<std::int32_t>(tokens_.size()); }
    std::int32_t bos_id() const override { return bos_id_; }
    std::int32_t eos_id() const override { return eos_id_; }
    std::string kind() const override { return "bpe"; }
    bool default_add_bos() const override { return add_bos_ && bos_id_ >= 0; }

private:
    void encode_piece(std::string_view piece, bool at_start, std::vector<std::int32_t>& out) const;
    void encode_word(std::string_view word, std::vector<std::int32_t>& out) const;
    void merge_word(const std::string& printable, std::vector<std::int32_t>& out) const;

    std::string source_;
    std::vector<std::string> tokens_;
    std::vector<std::string> decoded_;  // id -> bytes it stands for
    std::unordered_map<std::string, std::int32_t> token_to_id_;
    // (left id, right id) -> (rank, merged id)
    std::unordered_map<std::uint64_t, std::pair<std::int32_t, std::int32_t>> merges_;
    SpecialTokenMatcher specials_;
    PreTokenizer pre_;
    bool ignore_merges_ = false, add_prefix_space_ = false;
    BpeSpec::Symbols symbols_ = BpeSpec::Symbols::ByteLevel;
    bool byte_fallback_ = false, fuse_unk_ = false, nfc_ = false, metaspace_ = false, strip_leading_space_ = false;
    BpeSpec::Prepend prepend_ = BpeSpec::Prepend::Never;
    std::array<std::int32_t, 256> byte_ids_{};  // <0xXX> token ids, -1 where absent (byte_fallback)
    std::int32_t bos_id_ = -1, eos_id_ = -1, unk_id_ = -1;
    bool add_bos_ = false;

    // Words repeat a lot in real text, so each word's ids are kept; bounded so memory stays small.
    mutable std::mutex cache_mutex_;
    mutable std::unordered_map<std::string, std::vector<std::int32_t>> cache_;
    mutable std::atomic<bool> warned_unknown_{false};
};

}  // namespace scalebits::tokenizer
