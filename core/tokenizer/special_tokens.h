#pragma once
// Special (added / control) tokens are found verbatim in the text before any pre-tokenization, the
// way Hugging Face's added-token matching and llama.cpp's parse_special do: leftmost, then longest.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace scalebits::tokenizer {

class SpecialTokenMatcher {
public:
    // Adds a token (the first id given for a text wins); call finalize() once all are added.
    void add(std::string text, std::int32_t id);
    void finalize();
    bool empty() const { return tokens_.empty(); }

    // One piece of the input: either plain text (id == -1) or a matched special token.
    struct Segment {
        std::string_view text;
        std::int32_t id = -1;
    };
    std::vector<Segment> split(std::string_view text) const;

private:
    struct Entry {
        std::string text;
        std::int32_t id;
    };
    std::vector<Entry> tokens_;  // after finalize(): longest first, so the first hit is the longest
    std::unordered_set<std::string> seen_;
    std::vector<std::vector<std::size_t>> by_first_byte_ = std::vector<std::vector<std::size_t>>(256);
};

}  // namespace scalebits::tokenizer
