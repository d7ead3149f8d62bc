#pragma once
// Vocabularies with scores, merged greedily by score (SentencePiece's BPE): llama2.c's tokenizer.bin
// and GGUF "llama" vocabularies.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tokenizer/special_tokens.h"
#include "core/tokenizer/tokenizer.h"

namespace scalebits::tokenizer {

// GGUF token types (llama.cpp's llama_token_type).
enum class TokenType : std::int32_t { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4,
                                      Unused = 5, Byte = 6 };

struct SpmSpec {
    // Llama2c reproduces llama2.c's run.c byte for byte: a " " dummy-prefix token, whole code points
    // looked up, byte fallback at id byte+3, then best-score merges over all tokens.
    // SentencePiece is llama.cpp's reading of a GGUF "llama" vocabulary: spaces become U+2581, the
    // prefix is part of the text, control/user-defined tokens are matched verbatim, unknown code
    // points fall back to <0xXX> byte tokens.
    enum class Flavor { Llama2c, SentencePiece };
    Flavor flavor = Flavor::SentencePiece;
    std::string source;
    std::vector<std::string> tokens;
    std::vector<float> scores;          // one per token
    std::vector<std::int32_t> types;    // one per token, or empty (all normal)
    bool add_space_prefix = true;
    std::int32_t bos_id = -1, eos_id = -1, unk_id = -1;
    bool add_bos = true;  // generation starts with BOS by default (GGUF add_bos_token)
};

class SpmTokenizer final : public Tokenizer {
public:
    // Throws FormatError naming spec.source when the parts do not fit together.
    explicit SpmTokenizer(SpmSpec spec);

    std::vector<std::int32_t> encode(std::string_view text, bool add_bos) const override;
    // BOS/EOS/control tokens decode to nothing (they are markers, not text), <0xXX> to the raw byte;
    // the dummy-prefix space is dropped after BOS (and, for SentencePiece, at the very start).
    std::string decode_token(std::int32_t prev, std::int32_t id) const override;
    std::int32_t vocab_size() const override { return static_cast<std::int32_t>(tokens_.size()); }
    std::int32_t bos_id() const override { return bos_id_; }
    std::int32_t eos_id() const override { return eos_id_; }
    std::string kind() const override { return "spm"; }
    bool default_add_bos() const override { return add_bos_ && bos_id_ >= 0; }

private:
    // Greedy best-score merging of `ids` in place (the core both flavors share).
    void merge_by_score(std::vector<std::int32_t>& ids, std::vector<std::string>& texts) const;
    void encode_llama2c(std::string_view text, std::vector<std::int32_t>& out) const;
    void encode_sentencepiece(std::string_view text, bool after_special, std::vector<std::int32_t>& out) const;
    std::int32_t lookup_mergeable(const std::string& text) const;

    SpmSpec::Flavor flavor_;
    std::string source_;
    std::vector<std::string> tokens_;
    std::vector<float> scores_;
    std::vector<std::int32_t> types_;
    std::unordered_map<std::string, std::int32_t> token_to_id_;  // first id for each text
    std::unordered_map<std::string, std::int32_t> mergeable_;    // tokens a merge may produce
    std::int32_t byte_ids_[256];  // SentencePiece byte-fallback tokens, -1 when missing
    SpecialTokenMatcher specials_;
    bool add_space_prefix_ = true;
    std::int32_t bos_id_ = -1, eos_id_ = -1, unk_id_ = -1;
    bool add_bos_ = false;
};

}  // namespace scalebits::tokenizer
