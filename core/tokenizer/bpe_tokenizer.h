#pragma once
// Byte-level BPE (GPT-2 family: SmolLM2, Llama-3, ...). Text -> special tokens cut out -> words by the
// pre-tokenizer -> bytes shown as printable code points -> merges applied by rank -> ids.
#include <cstdint>
#include <atomic>
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
};

class BpeTokenizer final : public Tokenizer {
public:
    // Throws FormatError naming spec.source for merges that name unknown tokens and bad special ids.
    explicit BpeTokenizer(BpeSpec spec);

    std::vector<std::int32_t> encode(std::string_view text, bool add_bos) const override;
    std::string decode_token(std::int32_t prev, std::int32_t id) const override;
    std::int32_t vocab_size() const override { return static_cast<std::int32_t>(tokens_.size()); }
    std::int32_t bos_id() const override { return bos_id_; }
    std::int32_t eos_id() const override { return eos_id_; }
    std::string kind() const override { return "bpe"; }
    bool default_add_bos() const override { return add_bos_ && bos_id_ >= 0; }

private:
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
    std::int32_t bos_id_ = -1, eos_id_ = -1, unk_id_ = -1;
    bool add_bos_ = false;

    // Words repeat a lot in real text, so each word's ids are kept; bounded so memory stays small.
    mutable std::mutex cache_mutex_;
    mutable std::unordered_map<std::string, std::vector<std::int32_t>> cache_;
    mutable std::atomic<bool> warned_unknown_{false};
};

}  // namespace scalebits::tokenizer
