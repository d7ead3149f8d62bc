#include "core/io/safetensors.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <set>

#include "core/io/json_strict.h"
#include "core/io/mapped_file.h"
#include "core/util/error.h"

namespace scalebits::io {

namespace {

using nlohmann::json;

std::optional<DType> safetensors_dtype(const std::string& s) {
    static const std::map<std::string, DType> known = {
        {"F64", DType::F64}, {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16},
        {"I64", DType::I64}, {"I32", DType::I32}, {"I16", DType::I16}, {"I8", DType::I8},
        {"U8", DType::U8},   {"BOOL", DType::BOOL},
    };
    auto it = known.find(s);
    if (it == known.end()) return std::nullopt;
    return it->second;
}

// A JSON number that is a non-negative integer fitting in 64 bits.
std::uint64_t as_u64(const json& v, const std::filesystem::path& source, const std::string& what) {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(v.get<std::int64_t>());
    throw FormatError(source, what + " must be a non-negative integer");
}

struct Entry {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
    std::uint64_t begin, end;
};

Entry parse_entry(const std::string& name, const json& info, const std::filesystem::path& source) {
    const std::string where = "tensor '" + name + "'";
    if (!info.is_object()) throw FormatError(source, where + ": entry is not a JSON object");
    auto field = [&](const char* key) -> const json& {
        auto it = info.find(key);
        if (it == info.end()) throw FormatError(source, where + ": missing '" + key + "'");
        return *it;
    };
    const json& dt = field("dtype");
    if (!dt.is_string()) throw FormatError(source, where + ": dtype is not a string");
    const auto dtype = safetensors_dtype(dt.get<std::string>());
    if (!dtype) throw FormatError(source, where + ": unknown or unsupported dtype '" + dt.get<std::string>() + "'");

    const json& sh = field("shape");
    if (!sh.is_array()) throw FormatError(source, where + ": shape is not an array");
    Entry e{name, *dtype, {}, 0, 0};
    std::uint64_t numel = 1;
    bool overflow = false;
    for (const json& d : sh) {
        const std::uint64_t v = as_u64(d, source, where + " shape entry");
        if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            throw FormatError(source, where + ": shape entry too large");
        if (v != 0 && numel > std::numeric_limits<std::uint64_t>::max() / v) overflow = true;
        numel *= v;
        e.shape.push_back(static_cast<std::int64_t>(v));
    }
    const std::int64_t elem = dtype_layout(*dtype).block_bytes;
    if (overflow || numel > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / elem)
        throw FormatError(source, where + ": shape times element size overflows 64 bits");

    const json& off = field("data_offsets");
    if (!off.is_array() || off.size() != 2) throw FormatError(source, where + ": data_offsets must be [begin, end]");
    e.begin = as_u64(off[0], source, where + " data_offsets");
    e.end = as_u64(off[1], source, where + " data_offsets");
    if (e.end < e.begin) throw FormatError(source, where + ": data_offsets end before begin");
    if (e.end - e.begin != numel * static_cast<std::uint64_t>(elem))
        throw FormatError(source, where + ": holds " + std::to_string(e.end - e.begin) + " bytes but shape and dtype need " +
                                      std::to_string(numel * static_cast<std::uint64_t>(elem)));
    return e;
}

}  // namespace

SafetensorsFile parse_safetensors(std::span<const std::uint8_t> bytes, std::shared_ptr<const void> owner,
                                  const std::filesystem::path& source) {
    if (bytes.size() < 8) throw FormatError(source, "file is shorter than the 8-byte safetensors header length");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<std::size_t>(i)];
    if (n > kSafetensorsMaxHeader)
        throw FormatError(source, "header length " + std::to_string(n) + " exceeds the 100 MB limit");
    if (n > bytes.size() - 8)
        throw FormatError(source, "header length " + std::to_string(n) + " runs past the end of the file (" +
                                      std::to_string(bytes.size()) + " bytes)");
    const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), static_cast<std::size_t>(n));
    // Like the reference reader: the header must open with '{' (no leading whitespace or BOM).
    if (text.empty() || text.front() != '{') throw FormatError(source, "header does not start with '{'");
    const json header = parse_json_strict(text, source);
    if (!header.is_object()) throw FormatError(source, "header is not a JSON object");

    SafetensorsFile out;
    std::vector<Entry> entries;
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") {
            if (!it->is_object()) throw FormatError(source, "__metadata__ is not a JSON object");
            for (auto m = it->begin(); m != it->end(); ++m) {
                if (!m->is_string()) throw FormatError(source, "__metadata__ value of '" + m.key() + "' is not a string");
                out.metadata[m.key()] = m->get<std::string>();
            }
            continue;
        }
        entries.push_back(parse_entry(it.key(), *it, source));
    }

    // The data region must be tiled exactly: sorted by begin, each tensor starts where the previous
    // one ended, and the last ends at the end of the file. This rules out gaps, overlaps and
    // trailing bytes at once.
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    const std::uint64_t data_size = bytes.size() - 8 - n;
    std::uint64_t pos = 0;
    for (const Entry& e : entries) {
        if (e.begin < pos) throw FormatError(source, "tensor '" + e.name + "' overlaps the previous tensor's bytes");
        if (e.begin > pos)
            throw FormatError(source, "gap of " + std::to_string(e.begin - pos) + " bytes before tensor '" + e.name + "'");
        if (e.end > data_size) throw FormatError(source, "tensor '" + e.name + "' runs past the end of the file");
        pos = e.end;
    }
    if (pos != data_size)
        throw FormatError(source, std::to_string(data_size - pos) + " trailing bytes after the last tensor");

    const std::uint8_t* data = bytes.data() + 8 + n;
    out.tensors.reserve(entries.size());
    for (Entry& e : entries) {
        HostTensor t;
        t.name = std::move(e.name);
        t.dtype = e.dtype;
        t.shape = std::move(e.shape);
        t.bytes = {data + e.begin, static_cast<std::size_t>(e.end - e.begin)};
        t.owner = owner;
        out.tensors.push_back(std::move(t));
    }
    return out;
}

const HostTensor* SafetensorsFile::find(const std::string& name) const {
    for (const auto& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

SafetensorsFile read_safetensors(const std::filesystem::path& file) {
    auto map = MappedFile::open(file);
    SafetensorsFile f = parse_safetensors(map->bytes(), map, file);
    for (auto& t : f.tensors) t.file_mapped = true;
    return f;
}

namespace {

// The shard named in an index must be a plain relative path inside the model folder.
std::filesystem::path shard_path(const std::filesystem::path& folder, const std::string& name,
                                 const std::filesystem::path& index) {
    const std::filesystem::path rel(name);
    if (name.empty() || rel.is_absolute() || rel.has_root_name() || rel.has_root_directory())
        throw FormatError(index, "shard '" + name + "' is not a relative path inside the model folder");
    for (const auto& part : rel)
        if (part == "..") throw FormatError(index, "shard '" + name + "' points outside the model folder");
    const auto full = folder / rel;
    if (!std::filesystem::is_regular_file(full)) throw FormatError(index, "shard '" + name + "' does not exist");
    return full;
}

SafetensorsFile read_sharded(const std::filesystem::path& folder, const std::filesystem::path& index) {
    const json j = read_json_file(index);
    if (!j.is_object()) throw FormatError(index, "index is not a JSON object");
    auto wm = j.find("weight_map");
    if (wm == j.end() || !wm->is_object()) throw FormatError(index, "missing 'weight_map' object");

    std::map<std::string, std::string> owner_of;  // tensor -> shard file name
    std::set<std::string> shards;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
        if (!it->is_string()) throw FormatError(index, "weight_map entry of '" + it.key() + "' is not a string");
        owner_of[it.key()] = it->get<std::string>();
        shards.insert(it->get<std::string>());
    }
    if (shards.empty()) throw FormatError(index, "weight_map is empty");

    SafetensorsFile out;
    std::set<std::string> seen;
    for (const std::string& shard : shards) {
        const auto path = shard_path(folder, shard, index);
        SafetensorsFile part = read_safetensors(path);
        for (auto& [k, v] : part.metadata) out.metadata.emplace(k, v);
        for (HostTensor& t : part.tensors) {
            auto o = owner_of.find(t.name);
            if (o == owner_of.end())
                throw FormatError(path, "tensor '" + t.name + "' is not listed in " + index.filename().string());
            if (o->second != shard)
                throw FormatError(path, "tensor '" + t.name + "' is listed in the index under shard '" + o->second + "'");
            if (!seen.insert(t.name).second) throw FormatError(path, "tensor '" + t.name + "' appears twice");
            out.tensors.push_back(std::move(t));
        }
    }
    for (const auto& [name, shard] : owner_of)
        if (!seen.count(name)) throw FormatError(index, "tensor '" + name + "' is missing from shard '" + shard + "'");
    return out;
}

}  // namespace

SafetensorsFile read_safetensors_model(const std::filesystem::path& path) {
    if (!std::filesystem::is_directory(path)) return read_safetensors(path);
    const auto index = path / "model.safetensors.index.json";
    if (std::filesystem::exists(index)) return read_sharded(path, index);
    const auto single = path / "model.safetensors";
    if (std::filesystem::exists(single)) return read_safetensors(single);
    throw InputError(path, "folder has neither model.safetensors nor model.safetensors.index.json");
}

}  // namespace scalebits::io
