#include "core/tokenizer/special_tokens.h"

#include <algorithm>

namespace scalebits::tokenizer {

void SpecialTokenMatcher::add(std::string text, std::int32_t id) {
    if (text.empty() || !seen_.insert(text).second) return;  // an empty special would match everywhere
    tokens_.push_back({std::move(text), id});
}

void SpecialTokenMatcher::finalize() {
    // Sorting once (not per add) keeps vocabularies with tens of thousands of user-defined tokens fast.
    std::stable_sort(tokens_.begin(), tokens_.end(),
                     [](const Entry& a, const Entry& b) { return a.text.size() > b.text.size(); });
    for (auto& bucket : by_first_byte_) bucket.clear();
    for (std::size_t i = 0; i < tokens_.size(); ++i)
        by_first_byte_[static_cast<unsigned char>(tokens_[i].text[0])].push_back(i);
}

std::vector<SpecialTokenMatcher::Segment> SpecialTokenMatcher::split(std::string_view text) const {
    std::vector<Segment> out;
    std::size_t plain_start = 0;
    for (std::size_t i = 0; i < text.size();) {
        const Entry* hit = nullptr;
        for (std::size_t k : by_first_byte_[static_cast<unsigned char>(text[i])]) {
            if (text.compare(i, tokens_[k].text.size(), tokens_[k].text) == 0) {
                hit = &tokens_[k];
                break;
            }
        }
        if (!hit) {
            ++i;
            continue;
        }
        if (i > plain_start) out.push_back({text.substr(plain_start, i - plain_start), -1});
        out.push_back({text.substr(i, hit->text.size()), hit->id});
        i += hit->text.size();
        plain_start = i;
    }
    if (plain_start < text.size()) out.push_back({text.substr(plain_start), -1});
    return out;
}

}  // namespace scalebits::tokenizer
