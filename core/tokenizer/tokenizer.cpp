#include "core/tokenizer/tokenizer.h"

namespace scalebits::tokenizer {

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids) const {
    // prev starts at -1 (no token before the first): each tokenizer decides what that means for
    // the leading space (SentencePiece drops its dummy prefix there, llama2.c only after BOS).
    std::string out;
    std::int32_t prev = -1;
    for (std::int32_t id : ids) {
        out += decode_token(prev, id);
        prev = id;
    }
    return out;
}

}  // namespace scalebits::tokenizer
