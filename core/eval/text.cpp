#include "core/eval/text.h"

#include <fstream>
#include <sstream>

#include "core/util/error.h"

namespace scalebits::eval {

std::string read_text(const std::filesystem::path& path, std::int64_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path, "cannot open the text file");
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (max_bytes > 0 && static_cast<std::int64_t>(text.size()) > max_bytes) {
        std::size_t cut = static_cast<std::size_t>(max_bytes);
        // Do not split a UTF-8 sequence: back up over continuation bytes.
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
        text.resize(cut);
    }
    if (text.empty()) throw InputError(path, "the text file is empty");
    return text;
}

std::vector<std::int32_t> tokenize_text(const tokenizer::Tokenizer& tok, const std::string& text) {
    return tok.encode(text, /*add_bos=*/false);
}

}  // namespace scalebits::eval
