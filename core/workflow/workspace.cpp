#include "core/workflow/workspace.h"

#include <charconv>
#include <cmath>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "core/io/atomic_file.h"
#include "core/io/json_strict.h"
#include "core/util/error.h"

namespace scalebits::workflow {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "scalebits-workspace";
constexpr int kVersion = 1;

void refuse_unknown_keys(const nlohmann::json& object, const std::set<std::string>& known, const fs::path& file,
                         const std::string& where) {
    for (const auto& [key, value] : object.items())
        if (!known.count(key)) throw FormatError(file, "unknown field '" + key + "' in " + where);
}

int width_field(const nlohmann::json& c, const char* key, const fs::path& file, const std::string& match) {
    if (!c.contains(key)) return 0;
    const int bits = io::json_integer<int>(c.at(key), file, "constraints." + match + "." + key);
    if (bits != 0 && (bits < 2 || bits > 8))
        throw FormatError(file, "constraints." + match + "." + key + " is " + std::to_string(bits) + ", outside 2..8");
    return bits;
}

}  // namespace

void save_workspace(const Workspace& w, const fs::path& file) {
    const fs::path folder = fs::absolute(file).parent_path();
    const fs::path analysis = fs::absolute(w.analysis);
    const fs::path relative = analysis.lexically_relative(folder);
    const bool inside = !relative.empty() && *relative.begin() != "..";
    nlohmann::json constraints = nlohmann::json::object();
    for (const auto& [match, c] : w.options.constraints) {
        nlohmann::json j = nlohmann::json::object();
        if (c.pinned_bits) j["pinned_bits"] = c.pinned_bits;
        if (c.min_bits) j["min_bits"] = c.min_bits;
        if (c.max_bits) j["max_bits"] = c.max_bits;
        if (!j.empty()) constraints[match] = j;
    }
    nlohmann::json j = {{"format", kFormat},
                              {"version", kVersion},
                              {"analysis", (inside ? relative : analysis).generic_string()},
                              {"method", alloc_method_name(w.method)},
                              {"budget_bits_per_weight", w.budget_bits},
                              {"scope", w.options.whole_file ? "all" : "linear"},
                              {"constraints", constraints}};
    nlohmann::json tile_pins = nlohmann::json::object();
    for (const auto& [matrix, pins] : w.options.tile_pins)
        for (const auto& [tile, bits] : pins) tile_pins[matrix][std::to_string(tile)] = bits;
    if (!tile_pins.empty()) j["tile_pins"] = tile_pins;
    io::write_file_atomic(file, j.dump(2) + "\n");
}

Workspace load_workspace(const fs::path& file) {
    const nlohmann::json j = io::read_json_file(file, 1u << 20);
    if (!j.is_object() || j.value("format", "") != kFormat)
        throw FormatError(file, "not a ScaleBITS workspace (no \"format\": \"scalebits-workspace\")");
    refuse_unknown_keys(j, {"format", "version", "analysis", "method", "budget_bits_per_weight", "scope", "constraints",
                            "tile_pins"},
                        file, "the workspace");
    const int version = io::json_integer<int>(j.at("version"), file, "version");
    if (version != kVersion)
        throw FormatError(file, "workspace version " + std::to_string(version) + " is not supported (this build reads " +
                                    std::to_string(kVersion) + ")");
    Workspace w;
    if (!j.contains("analysis") || !j.at("analysis").is_string() || j.at("analysis").get<std::string>().empty())
        throw FormatError(file, "\"analysis\" must name the analysis file");
    const fs::path analysis = j.at("analysis").get<std::string>();
    w.analysis = analysis.is_absolute() ? analysis : fs::absolute(file).parent_path() / analysis;
    if (!j.contains("method") || !j.at("method").is_string()) throw FormatError(file, "\"method\" must be a method name");
    try {
        w.method = parse_alloc_method(j.at("method").get<std::string>());
    } catch (const InputError& e) {
        throw FormatError(file, std::string("method: ") + e.what());
    }
    const auto& budget = j.value("budget_bits_per_weight", nlohmann::json());
    if (!budget.is_number() || !std::isfinite(budget.get<double>()) || budget.get<double>() <= 0)
        throw FormatError(file, "\"budget_bits_per_weight\" must be a positive number");
    w.budget_bits = budget.get<double>();
    const std::string scope = j.value("scope", "all");
    if (scope != "all" && scope != "linear") throw FormatError(file, "\"scope\" must be all or linear, got '" + scope + "'");
    w.options.whole_file = scope == "all";
    const auto& constraints = j.value("constraints", nlohmann::json::object());
    if (!constraints.is_object()) throw FormatError(file, "\"constraints\" must be an object");
    for (const auto& [match, c] : constraints.items()) {
        if (!c.is_object()) throw FormatError(file, "constraints." + match + " must be an object");
        refuse_unknown_keys(c, {"pinned_bits", "min_bits", "max_bits"}, file, "constraints." + match);
        analysis::WidthConstraint wc;
        wc.pinned_bits = width_field(c, "pinned_bits", file, match);
        wc.min_bits = width_field(c, "min_bits", file, match);
        wc.max_bits = width_field(c, "max_bits", file, match);
        w.options.constraints[match] = wc;
    }
    const auto& tile_pins = j.value("tile_pins", nlohmann::json::object());
    if (!tile_pins.is_object()) throw FormatError(file, "\"tile_pins\" must be an object");
    for (const auto& [matrix, pins] : tile_pins.items()) {
        const std::string where = "tile_pins." + matrix;
        if (!pins.is_object()) throw FormatError(file, where + " must be an object of tile index: bits");
        for (const auto& [tile, bits_json] : pins.items()) {
            std::int64_t index = -1;
            const auto [end, ec] = std::from_chars(tile.data(), tile.data() + tile.size(), index);
            if (ec != std::errc() || end != tile.data() + tile.size() || index < 0)
                throw FormatError(file, where + ": '" + tile + "' is not a tile index");
            const int bits = io::json_integer<int>(bits_json, file, where + "." + tile);
            if (!is_tile_width(bits))
                throw FormatError(file, where + "." + tile + " is " + std::to_string(bits) + ", not 2..8 or 16 (fp16)");
            w.options.tile_pins[matrix][index] = bits;
        }
    }
    return w;
}

}  // namespace scalebits::workflow
