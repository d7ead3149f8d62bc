#include "core/io/json_strict.h"

#include <set>
#include <string>
#include <vector>

#include "core/io/mapped_file.h"
#include "core/util/error.h"

namespace scalebits::io {

nlohmann::json parse_json_strict(std::string_view text, const std::filesystem::path& file, int max_depth) {
    using nlohmann::json;
    // One key set per open object; the callback sees every key before its value.
    std::vector<std::set<std::string>> open_objects;
    std::string duplicate;
    bool too_deep = false;
    auto cb = [&](int depth, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start:
                open_objects.emplace_back();
                break;
            case json::parse_event_t::object_end:
                if (!open_objects.empty()) open_objects.pop_back();
                break;
            case json::parse_event_t::key:
                if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second &&
                    duplicate.empty())
                    duplicate = parsed.get<std::string>();
                break;
            default:
                break;
        }
        if (depth > max_depth) too_deep = true;
        return true;
    };
    json j;
    try {
        j = json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/true, /*ignore_comments=*/false);
    } catch (const json::exception& e) {
        throw FormatError(file, std::string("invalid JSON: ") + e.what());
    }
    if (too_deep) throw FormatError(file, "JSON nesting deeper than " + std::to_string(max_depth));
    if (!duplicate.empty()) throw FormatError(file, "duplicate JSON key '" + duplicate + "'");
    return j;
}

nlohmann::json read_json_file(const std::filesystem::path& file, std::size_t max_bytes) {
    auto map = MappedFile::open(file);
    if (map->size() > max_bytes)
        throw InputError(file, "JSON file is " + std::to_string(map->size()) + " bytes, more than the limit of " +
                                   std::to_string(max_bytes));
    const auto* p = reinterpret_cast<const char*>(map->data());
    return parse_json_strict(std::string_view(p ? p : "", map->size()), file);
}

}  // namespace scalebits::io
