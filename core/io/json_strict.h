#pragma once
// JSON parsing for untrusted headers and configs. nlohmann keeps the last of duplicate object keys
// silently; a checkpoint header with two entries of one name is ambiguous, so this rejects it.
#include <filesystem>
#include <string_view>

#include <nlohmann/json.hpp>

namespace scalebits::io {

// Parses text as JSON (UTF-8 is validated by the parser), rejecting duplicate keys in any object
// and nesting deeper than max_depth. Throws FormatError naming `file`.
nlohmann::json parse_json_strict(std::string_view text, const std::filesystem::path& file, int max_depth = 64);

// Reads a whole (small) file and parses it strictly. Throws InputError when it cannot be read and
// when it is larger than max_bytes.
nlohmann::json read_json_file(const std::filesystem::path& file, std::size_t max_bytes = 64u << 20);

}  // namespace scalebits::io
