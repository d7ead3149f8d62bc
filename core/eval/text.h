#pragma once
// Evaluation and calibration text: read a UTF-8 file (optionally its first max_bytes, cut back to a
// whole UTF-8 character) and tokenize it once.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace scalebits::eval {

std::string read_text(const std::filesystem::path& path, std::int64_t max_bytes = 0);
std::vector<std::int32_t> tokenize_text(const tokenizer::Tokenizer& tok, const std::string& text);

}  // namespace scalebits::eval
