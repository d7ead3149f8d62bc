#pragma once
// JSON parsing for untrusted headers and configs. nlohmann keeps the last of duplicate object keys
// silently; a checkpoint header with two entries of one name is ambiguous, so this rejects it.
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/util/error.h"

namespace scalebits::io {

// Parses text as JSON (UTF-8 is validated by the parser), rejecting duplicate keys in any object
// and nesting deeper than max_depth. Throws FormatError naming `file`.
nlohmann::json parse_json_strict(std::string_view text, const std::filesystem::path& file, int max_depth = 64);

// Reads a whole (small) file and parses it strictly. Throws InputError when it cannot be read and
// when it is larger than max_bytes.
nlohmann::json read_json_file(const std::filesystem::path& file, std::size_t max_bytes = 64u << 20);

// The value of an integer field of an untrusted file. A number with a fraction or an exponent
// (1e308) or outside T's range is refused with FormatError naming `file` and `what`: nlohmann's
// get<T>() would convert it with undefined behaviour.
template <typename T>
T json_integer(const nlohmann::json& v, const std::filesystem::path& file, const std::string& what) {
    static_assert(std::is_integral_v<T>);
    if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (std::in_range<T>(u)) return static_cast<T>(u);
    } else if (v.is_number_integer()) {
        const auto i = v.get<std::int64_t>();
        if (std::in_range<T>(i)) return static_cast<T>(i);
    } else {
        throw FormatError(file, what + " is not an integer");
    }
    throw FormatError(file, what + " is out of range");
}

}  // namespace scalebits::io
