#include "core/tokenizer/spm_tokenizer.h"

#include <cstdio>
#include <queue>

#include "core/tokenizer/text_utils.h"
#include "core/util/error.h"

namespace scalebits::tokenizer {

namespace {

const std::string kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

// Scores at or below this never merge: llama2.c starts its best-score search from -1e10.
constexpr float kNoMergeScore = -1e10f;

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// "<0xHH>" -> HH, else -1.
int byte_piece_value(const std::string& piece) {
    if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return -1;
    const int hi = hex_value(piece[3]), lo = hex_value(piece[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

SpmTokenizer::SpmTokenizer(SpmSpec spec)
    : flavor_(spec.flavor), source_(std::move(spec.source)), tokens_(std::move(spec.tokens)),
      scores_(std::move(spec.scores)), types_(std::move(spec.types)), add_space_prefix_(spec.add_space_prefix),
      bos_id_(spec.bos_id), eos_id_(spec.eos_id), unk_id_(spec.unk_id), add_bos_(spec.add_bos) {
    const std::size_t n = tokens_.size();
    if (n == 0) throw FormatError(source_, "the tokenizer has no tokens");
    if (scores_.size() != n)
        throw FormatError(source_, "has " + std::to_string(scores_.size()) + " token scores for " +
                                       std::to_string(n) + " tokens");
    if (!types_.empty() && types_.size() != n)
        throw FormatError(source_, "has " + std::to_string(types_.size()) + " token types for " +
                                       std::to_string(n) + " tokens");
    for (auto [what, id] : {std::pair{"BOS", bos_id_}, {"EOS", eos_id_}, {"unknown-token", unk_id_}})
        if (id < -1 || id >= static_cast<std::int64_t>(n))
            throw FormatError(source_, std::string(what) + " id " + std::to_string(id) +
                                           " is outside the vocabulary of " + std::to_string(n) + " tokens");

    token_to_id_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto id = static_cast<std::int32_t>(i);
        token_to_id_.emplace(tokens_[i], id);
        const auto type = types_.empty() ? TokenType::Normal : static_cast<TokenType>(types_[i]);
        // SentencePiece only ever merges into ordinary pieces; control and byte tokens are reached
        // by verbatim matching and byte fallback instead.
        if (type == TokenType::Normal || type == TokenType::UserDefined || type == TokenType::Undefined)
            mergeable_.emplace(tokens_[i], id);
        if (flavor_ == SpmSpec::Flavor::SentencePiece &&
            (type == TokenType::Control || type == TokenType::UserDefined))
            specials_.add(tokens_[i], id);
    }
    specials_.finalize();
    char piece[8];
    for (int b = 0; b < 256; ++b) {
        std::snprintf(piece, sizeof piece, "<0x%02X>", b);
        const auto it = token_to_id_.find(piece);
        byte_ids_[b] = it == token_to_id_.end() ? -1 : it->second;
    }
}

std::int32_t SpmTokenizer::lookup_mergeable(const std::string& text) const {
    const auto& map = flavor_ == SpmSpec::Flavor::Llama2c ? token_to_id_ : mergeable_;
    const auto it = map.find(text);
    if (it == map.end() || !(scores_[it->second] > kNoMergeScore)) return -1;
    return it->second;
}

void SpmTokenizer::merge_by_score(std::vector<std::int32_t>& ids, std::vector<std::string>& texts) const {
    // llama2.c rescans every adjacent pair and merges the best-scoring one, the leftmost on ties.
    // A heap ordered by (score desc, position asc) over a linked list makes the same choices in
    // O(n log n): positions keep their left-to-right order as symbols merge. Stale entries are
    // recognised by the recorded text lengths, which only grow when a symbol merges.
    const int count = static_cast<int>(ids.size());
    std::vector<int> next(count), prev(count);
    for (int i = 0; i < count; ++i) {
        next[i] = i + 1 < count ? i + 1 : -1;
        prev[i] = i - 1;
    }
    struct Candidate {
        float score;
        int pos;
        std::size_t left_len, right_len;
        std::int32_t merged;
        bool operator<(const Candidate& o) const { return score != o.score ? score < o.score : pos > o.pos; }
    };
    std::priority_queue<Candidate> heap;
    const auto push_pair = [&](int pos) {
        if (pos < 0 || next[pos] < 0) return;
        const std::int32_t id = lookup_mergeable(texts[pos] + texts[next[pos]]);
        if (id >= 0) heap.push({scores_[id], pos, texts[pos].size(), texts[next[pos]].size(), id});
    };
    for (int i = 0; i + 1 < count; ++i) push_pair(i);
    std::vector<bool> alive(count, true);
    while (!heap.empty()) {
        const Candidate c = heap.top();
        heap.pop();
        const int r = next[c.pos];
        if (!alive[c.pos] || r < 0 || texts[c.pos].size() != c.left_len || texts[r].size() != c.right_len) continue;
        ids[c.pos] = c.merged;
        texts[c.pos] += texts[r];
        alive[r] = false;
        next[c.pos] = next[r];
        if (next[r] >= 0) prev[next[r]] = c.pos;
        push_pair(prev[c.pos]);
        push_pair(c.pos);
    }
    std::size_t w = 0;
    for (int i = 0; i < count; ++i)
        if (alive[i]) {
            if (w != static_cast<std::size_t>(i)) {  // a self-move would empty the string
                ids[w] = ids[i];
                texts[w] = std::move(texts[i]);
            }
            ++w;
        }
    ids.resize(w);
    texts.resize(w);
}

void SpmTokenizer::encode_llama2c(std::string_view text, std::vector<std::int32_t>& out) const {
    std::vector<std::int32_t> ids(out.begin(), out.end());  // run.c merges across BOS too
    out.clear();
    if (!text.empty()) {
        // run.c looks up " " as the dummy prefix; a vocabulary without it gets no prefix (run.c would
        // emit id -1 there).
        const auto space = token_to_id_.find(" ");
        if (space != token_to_id_.end()) ids.push_back(space->second);
    }
    std::string group;
    for (std::size_t i = 0; i < text.size(); ++i) {
        group += text[i];
        // A lead byte and up to three continuation bytes form one lookup, as in run.c.
        if (i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80 && group.size() < 4)
            continue;
        const auto it = token_to_id_.find(group);
        if (it != token_to_id_.end()) {
            ids.push_back(it->second);
        } else {
            for (char c : group) {
                const std::int32_t id = static_cast<unsigned char>(c) + 3;
                if (id >= vocab_size())
                    throw InputError(source_, "byte fallback token " + std::to_string(id) +
                                                  " is outside the vocabulary of " + std::to_string(vocab_size()));
                ids.push_back(id);
            }
        }
        group.clear();
    }
    std::vector<std::string> texts;
    texts.reserve(ids.size());
    for (std::int32_t id : ids) texts.push_back(tokens_[id]);
    merge_by_score(ids, texts);
    out = std::move(ids);
}

void SpmTokenizer::encode_sentencepiece(std::string_view text, bool after_special,
                                        std::vector<std::int32_t>& out) const {
    std::string escaped = add_space_prefix_ && after_special ? kSpace : std::string();
    for (char c : text) {
        if (c == ' ') escaped += kSpace;
        else escaped += c;
    }
    std::vector<std::int32_t> ids;
    std::vector<std::string> texts;
    for (std::size_t i = 0; i < escaped.size();) {
        const std::size_t len = utf8_char_length(escaped, i);
        texts.push_back(escaped.substr(i, len));
        const auto it = mergeable_.find(texts.back());
        ids.push_back(it == mergeable_.end() ? -1 : it->second);
        i += len;
    }
    merge_by_score(ids, texts);
    for (std::size_t k = 0; k < ids.size(); ++k) {
        if (ids[k] >= 0) {
            out.push_back(ids[k]);
            continue;
        }
        // A code point with no piece: its bytes as <0xXX> tokens, or the unknown token.
        for (char c : texts[k]) {
            const std::int32_t id = byte_ids_[static_cast<unsigned char>(c)];
            if (id >= 0) out.push_back(id);
            else if (unk_id_ >= 0) out.push_back(unk_id_);
            else throw InputError(source_, "text has a character with no token, no byte token and no unknown token");
        }
    }
}

std::vector<std::int32_t> SpmTokenizer::encode(std::string_view text, bool add_bos) const {
    std::vector<std::int32_t> out;
    if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
    if (flavor_ == SpmSpec::Flavor::Llama2c) {
        encode_llama2c(text, out);
        return out;
    }
    // llama.cpp's rule: the prefix space goes at the start and after every special token.
    bool after_special = true;
    const auto segments =
        specials_.empty() ? std::vector<SpecialTokenMatcher::Segment>{{text, -1}} : specials_.split(text);
    for (const auto& seg : segments) {
        if (seg.id >= 0) {
            out.push_back(seg.id);
            after_special = true;
        } else {
            encode_sentencepiece(seg.text, after_special, out);
            after_special = false;
        }
    }
    return out;
}

std::string SpmTokenizer::decode_token(std::int32_t prev, std::int32_t id) const {
    if (id < 0 || id >= vocab_size())
        throw InputError(source_, "token id " + std::to_string(id) + " is outside the vocabulary of " +
                                      std::to_string(vocab_size()) + " tokens");
    if (id == bos_id_ || id == eos_id_) return {};
    const std::string& piece = tokens_[id];
    const auto type = types_.empty() ? TokenType::Normal : static_cast<TokenType>(types_[id]);
    if (type == TokenType::Control) return {};
    if (const int byte = byte_piece_value(piece); byte >= 0) return std::string(1, static_cast<char>(byte));
    if (flavor_ == SpmSpec::Flavor::Llama2c) {
        // run.c: after BOS the leading space of a piece is dropped.
        if (prev == bos_id_ && !piece.empty() && piece[0] == ' ') return piece.substr(1);
        return piece;
    }
    std::string out;
    for (std::size_t i = 0; i < piece.size();) {
        if (piece.compare(i, kSpace.size(), kSpace) == 0) {
            out += ' ';
            i += kSpace.size();
        } else {
            out += piece[i++];
        }
    }
    if (add_space_prefix_ && (prev < 0 || prev == bos_id_) && !out.empty() && out[0] == ' ') out.erase(0, 1);
    return out;
}

}  // namespace scalebits::tokenizer
