#pragma once
// Small text helpers shared by the tokenizers: UTF-8 stepping and the GPT-2 byte<->unicode table.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace scalebits::tokenizer {

// Length of the UTF-8 sequence that starts at s[i]: 1 for ASCII and for any byte that does not start
// a complete, well-formed sequence (so invalid input still advances one byte at a time).
std::size_t utf8_char_length(std::string_view s, std::size_t i);

// Appends the UTF-8 encoding of a code point.
void append_utf8(std::string& out, char32_t cp);

// True when the whole string is well-formed UTF-8.
bool is_valid_utf8(std::string_view s);

// Unicode Normalization Form C (canonical composition, utf8proc). Text that is not valid UTF-8 is
// returned unchanged (Hugging Face tokenizers only ever see valid strings).
std::string nfc(std::string_view s);

// Every occurrence of `from` (non-empty) replaced by `to`.
std::string replace_all(std::string_view s, std::string_view from, std::string_view to);

// GPT-2's reversible byte <-> printable-code-point map: byte-level BPE vocabularies store every byte
// as a visible character (space is 'Ġ', newline 'Ċ'), so merges never see raw control bytes.
class ByteUnicodeMap {
public:
    static const ByteUnicodeMap& instance();
    // The UTF-8 text of the code point standing for byte b.
    const std::string& encode(unsigned char b) const { return byte_to_text_[b]; }
    // Maps a whole byte string to its printable form.
    std::string encode(std::string_view bytes) const;
    // Decodes a printable token back to bytes; code points outside the table are kept as their UTF-8.
    std::string decode(std::string_view text) const;

private:
    ByteUnicodeMap();
    std::array<std::string, 256> byte_to_text_;
    std::unordered_map<char32_t, unsigned char> cp_to_byte_;
};

}  // namespace scalebits::tokenizer
