#include "core/tokenizer/bpe_tokenizer.h"

#include <array>
#include <cstdio>
#include <iostream>
#include <queue>

#include "core/tokenizer/text_utils.h"
#include "core/util/error.h"

namespace scalebits::tokenizer {

namespace {

constexpr std::size_t kMaxCachedWords = 1 << 18;
constexpr const char* kMetaspace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space
constexpr std::size_t kMaxCachedWordBytes = 256;  // long runs are rare and would bloat the cache

std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
}

void check_id(std::int32_t id, std::size_t n, const std::string& what, const std::string& source) {
    if (id < -1 || id >= static_cast<std::int64_t>(n))
        throw FormatError(source, what + " id " + std::to_string(id) + " is outside the vocabulary of " +
                                      std::to_string(n) + " tokens");
}

}  // namespace

BpeTokenizer::BpeTokenizer(BpeSpec spec)
    : source_(std::move(spec.source)), tokens_(std::move(spec.tokens)), pre_(std::move(spec.pre)),
      ignore_merges_(spec.ignore_merges), add_prefix_space_(spec.add_prefix_space), symbols_(spec.symbols),
      byte_fallback_(spec.byte_fallback), fuse_unk_(spec.fuse_unk), nfc_(spec.nfc), metaspace_(spec.metaspace),
      strip_leading_space_(spec.strip_leading_space), prepend_(spec.prepend), bos_id_(spec.bos_id),
      eos_id_(spec.eos_id), unk_id_(spec.unk_id), add_bos_(spec.add_bos) {
    const std::size_t n = tokens_.size();
    if (n == 0) throw FormatError(source_, "the tokenizer has no tokens");
    check_id(bos_id_, n, "BOS", source_);
    check_id(eos_id_, n, "EOS", source_);
    check_id(unk_id_, n, "unknown-token", source_);
    token_to_id_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) token_to_id_.emplace(tokens_[i], static_cast<std::int32_t>(i));

    std::vector<bool> special(n, false);
    for (std::int32_t id : spec.special_ids) {
        if (id < 0 || id >= static_cast<std::int64_t>(n))
            throw FormatError(source_, "special token id " + std::to_string(id) + " is outside the vocabulary of " +
                                           std::to_string(n) + " tokens");
        special[id] = true;
        specials_.add(tokens_[id], id);
    }
    specials_.finalize();
    byte_ids_.fill(-1);
    if (byte_fallback_)
        for (int b = 0; b < 256; ++b) {
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", b);
            if (const auto it = token_to_id_.find(name); it != token_to_id_.end()) byte_ids_[b] = it->second;
        }
    const ByteUnicodeMap& bytes = ByteUnicodeMap::instance();
    decoded_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (special[i]) {
            decoded_[i] = tokens_[i];
        } else if (symbols_ == BpeSpec::Symbols::ByteLevel) {
            decoded_[i] = bytes.decode(tokens_[i]);
        } else {
            decoded_[i] = metaspace_ ? replace_all(tokens_[i], kMetaspace, " ") : tokens_[i];
        }
    }
    for (int b = 0; b < 256; ++b)  // ByteFallback decoding: <0xXX> is the raw byte
        if (byte_ids_[b] >= 0) decoded_[byte_ids_[b]] = std::string(1, static_cast<char>(b));

    merges_.reserve(spec.merges.size());
    for (std::size_t rank = 0; rank < spec.merges.size(); ++rank) {
        const std::string& m = spec.merges[rank];
        const std::size_t space = m.find(' ', 1);
        const auto bad = [&](const std::string& why) {
            return FormatError(source_, "merge " + std::to_string(rank) + " \"" + m + "\" " + why);
        };
        if (space == std::string::npos || space + 1 >= m.size()) throw bad("is not two tokens separated by a space");
        const std::string left = m.substr(0, space), right = m.substr(space + 1);
        const auto l = token_to_id_.find(left), r = token_to_id_.find(right), merged = token_to_id_.find(left + right);
        if (l == token_to_id_.end() || r == token_to_id_.end()) throw bad("names a token that is not in the vocabulary");
        if (merged == token_to_id_.end()) throw bad("makes a token that is not in the vocabulary");
        merges_.emplace(pair_key(l->second, r->second),
                        std::make_pair(static_cast<std::int32_t>(rank), merged->second));  // first rank wins
    }
}

std::vector<std::int32_t> BpeTokenizer::encode(std::string_view text, bool add_bos) const {
    std::vector<std::int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
    const std::vector<SpecialTokenMatcher::Segment> segments =
        specials_.empty() ? std::vector<SpecialTokenMatcher::Segment>{{text, -1}} : specials_.split(text);
    for (const auto& seg : segments) {
        if (seg.id >= 0) {
            out.push_back(seg.id);
            continue;
        }
        encode_piece(seg.text, seg.text.data() == text.data(), out);
    }
    return out;
}

// One piece of text between special tokens: normalizer, space handling, pre-tokenizer, then words.
void BpeTokenizer::encode_piece(std::string_view piece, bool at_start, std::vector<std::int32_t>& out) const {
    std::string normalized;
    std::string_view body = piece;
    if (nfc_) {
        normalized = nfc(body);
        body = normalized;
    }
    if (add_prefix_space_ && !body.empty() && body.front() != ' ') {
        normalized = " " + std::string(body);
        body = normalized;
    }
    if (metaspace_ && !body.empty()) {
        std::string m = replace_all(body, " ", kMetaspace);
        const bool marked = m.starts_with(kMetaspace);
        if (prepend_ == BpeSpec::Prepend::Unconditional || (prepend_ == BpeSpec::Prepend::Always && !marked) ||
            (prepend_ == BpeSpec::Prepend::First && at_start && !marked))
            m.insert(0, kMetaspace);
        normalized = std::move(m);
        body = normalized;
    }
    if (pre_.empty()) {
        encode_word(body, out);
    } else {
        for (std::string_view word : pre_.split(body)) encode_word(word, out);
    }
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<std::int32_t>& out) const {
    if (word.empty()) return;
    std::string key(word);
    if (key.size() <= kMaxCachedWordBytes) {
        std::lock_guard lock(cache_mutex_);
        const auto it = cache_.find(key);
        if (it != cache_.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    std::vector<std::int32_t> ids;
    const std::string printable =
        symbols_ == BpeSpec::Symbols::ByteLevel ? ByteUnicodeMap::instance().encode(word) : std::string(word);
    const auto whole = ignore_merges_ ? token_to_id_.find(printable) : token_to_id_.end();
    if (whole != token_to_id_.end())
        ids.push_back(whole->second);
    else
        merge_word(printable, ids);
    out.insert(out.end(), ids.begin(), ids.end());
    if (key.size() > kMaxCachedWordBytes) return;
    std::lock_guard lock(cache_mutex_);
    if (cache_.size() >= kMaxCachedWords) cache_.clear();
    cache_.emplace(std::move(key), std::move(ids));
}

void BpeTokenizer::merge_word(const std::string& printable, std::vector<std::int32_t>& out) const {
    // Symbols form a doubly linked list over a vector; a min-heap holds candidate merges ordered by
    // rank, then position, which is the order Hugging Face's BPE applies them in. Entries made stale
    // by an earlier merge are recognised by their recorded left/right ids and skipped.
    struct Symbol {
        std::int32_t id;
        int prev, next;
    };
    std::vector<Symbol> sym;
    sym.reserve(printable.size());
    const auto add = [&](std::int32_t id) {
        const int k = static_cast<int>(sym.size());
        sym.push_back({id, k - 1, k + 1});
    };
    std::size_t unknown = 0;
    bool unk_pending = false;  // Hugging Face's BPE: an unknown token waits, so that fuse_unk can join the next one
    for (std::size_t i = 0; i < printable.size();) {
        const std::size_t len = utf8_char_length(printable, i);
        const std::string_view ch(printable.data() + i, len);
        i += len;
        if (const auto it = token_to_id_.find(std::string(ch)); it != token_to_id_.end()) {
            if (unk_pending) add(unk_id_);
            unk_pending = false;
            add(it->second);
            continue;
        }
        if (byte_fallback_) {
            bool all = true;
            for (unsigned char b : ch) all = all && byte_ids_[b] >= 0;
            if (all) {  // (a waiting unknown token stays waiting, as in Hugging Face's loop)
                for (unsigned char b : ch) add(byte_ids_[b]);
                continue;
            }
        }
        // No token: the unknown token when there is one, else the character is dropped (Hugging
        // Face's behaviour without unk_token), with a warning below.
        if (unk_id_ < 0) {
            ++unknown;
            continue;
        }
        if (unk_pending && !fuse_unk_) add(unk_id_);
        unk_pending = true;
    }
    if (unk_pending) add(unk_id_);
    if (unknown > 0 && !warned_unknown_.exchange(true)) {  // once per tokenizer
        std::cerr << "warning: " << source_ << ": input bytes without a token in the vocabulary were dropped\n";
    }
    if (sym.empty()) return;
    sym.back().next = -1;

    struct Candidate {
        std::int32_t rank;
        int pos;
        std::int32_t left, right, merged;
        bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
    const auto push_pair = [&](int pos) {
        if (pos < 0 || sym[pos].next < 0) return;
        const auto it = merges_.find(pair_key(sym[pos].id, sym[sym[pos].next].id));
        if (it != merges_.end())
            heap.push({it->second.first, pos, sym[pos].id, sym[sym[pos].next].id, it->second.second});
    };
    for (int i = 0; i + 1 < static_cast<int>(sym.size()); ++i) push_pair(i);

    while (!heap.empty()) {
        const Candidate c = heap.top();
        heap.pop();
        Symbol& left = sym[c.pos];
        if (left.id != c.left || left.next < 0 || sym[left.next].id != c.right) continue;  // stale
        const int right = left.next;
        left.id = c.merged;
        left.next = sym[right].next;
        if (left.next >= 0) sym[left.next].prev = c.pos;
        sym[right].id = -1;  // dead
        push_pair(left.prev);
        push_pair(c.pos);
    }
    for (int i = 0; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

std::string BpeTokenizer::decode_token(std::int32_t prev, std::int32_t id) const {
    if (id < 0 || id >= vocab_size())
        throw InputError(source_, "token id " + std::to_string(id) + " is outside the vocabulary of " +
                                      std::to_string(vocab_size()) + " tokens");
    const std::string& text = decoded_[id];
    if (strip_leading_space_ && (prev < 0 || prev == bos_id_) && text.starts_with(' ')) return text.substr(1);
    return text;
}

}  // namespace scalebits::tokenizer
