#pragma once
// The tokenizer interface shared by byte-level BPE (tokenizer.json, GGUF gpt2) and the SentencePiece
// style vocabularies with scores (llama2.c tokenizer.bin, GGUF llama).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace scalebits::tokenizer {

class Tokenizer {
public:
    virtual ~Tokenizer() = default;
    // Text to ids. add_bos prepends the BOS id when the vocabulary has one.
    virtual std::vector<std::int32_t> encode(std::string_view text, bool add_bos) const = 0;
    // The bytes of one token as it should be printed after `prev` (llama2.c drops the leading
    // space after BOS; byte-fallback tokens become their raw byte).
    virtual std::string decode_token(std::int32_t prev, std::int32_t id) const = 0;
    std::string decode(const std::vector<std::int32_t>& ids) const;

    virtual std::int32_t vocab_size() const = 0;
    virtual std::int32_t bos_id() const = 0;  // -1 when none
    virtual std::int32_t eos_id() const = 0;  // -1 when none
    virtual std::string kind() const = 0;     // "bpe" or "spm", for `info`
    // Whether text for generation starts with BOS by default (GGUF tokenizer.ggml.add_bos_token,
    // llama2.c always). Perplexity never adds BOS.
    virtual bool default_add_bos() const { return bos_id() >= 0; }
};

}  // namespace scalebits::tokenizer
