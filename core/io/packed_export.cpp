#include "core/io/packed_export.h"

#include <cstring>
#include <fstream>

#include "core/io/checksum.h"
#include "core/io/hf_config.h"
#include "core/io/json_strict.h"
#include "core/io/safetensors.h"
#include "core/util/error.h"

namespace scalebits::io {

namespace fs = std::filesystem;

namespace {
nlohmann::json read_json(const fs::path& file) {
    std::ifstream in(file);
    if (!in) throw InputError(file, "cannot be opened");
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw InputError(file, std::string("is not valid JSON: ") + e.what());
    }
}

// A span that the kernels may read with aligned loads: the mapped bytes when aligned, else a copy.
std::span<const std::uint8_t> aligned(const HostTensor& t, std::size_t alignment, std::shared_ptr<const void>& owner) {
    if (reinterpret_cast<std::uintptr_t>(t.bytes.data()) % alignment == 0) {
        owner = t.owner;
        return t.bytes;
    }
    auto copy = std::make_shared<std::vector<std::uint64_t>>((t.bytes.size() + 15) / 8 + 2);
    auto* p = reinterpret_cast<std::uint8_t*>(copy->data());
    p += (alignment - reinterpret_cast<std::uintptr_t>(p) % alignment) % alignment;
    std::memcpy(p, t.bytes.data(), t.bytes.size());
    owner = copy;
    return {p, t.bytes.size()};
}
}  // namespace

std::string packed_base_name(const std::string& weight_name) {
    const std::string suffix = ".weight";
    return weight_name.ends_with(suffix) ? weight_name.substr(0, weight_name.size() - suffix.size()) : weight_name;
}

std::int64_t UnquantizedTensor::bytes() const {
    std::int64_t n = dtype == "F16" ? 2 : 4;
    for (auto d : spec.shape) n *= d;
    return n;
}

std::vector<UnquantizedTensor> unquantized_tensors(const model::ModelConfig& c, bool vocab_packed) {
    using Role = model::TensorSpec::Role;
    std::vector<UnquantizedTensor> layers, global;
    for (model::TensorSpec& t : model::canonical_tensors(c)) {
        switch (t.role) {
            case Role::LinearWeight: break;  // packed
            case Role::Embedding:
            case Role::LmHead:
                if (!vocab_packed) global.push_back({std::move(t), "F16"});
                break;
            case Role::FinalNorm: global.insert(global.begin(), {std::move(t), "F32"}); break;
            default: layers.push_back({std::move(t), "F32"}); break;
        }
    }
    layers.insert(layers.end(), std::make_move_iterator(global.begin()), std::make_move_iterator(global.end()));
    return layers;
}

nlohmann::json export_metadata(std::int64_t tile_rows, std::int64_t tile_cols, std::int64_t group,
                               nlohmann::json matrices, nlohmann::json checksums) {
    return {{"format_version", kExportFormatVersion},
            {"tile", {tile_rows, tile_cols}},
            {"group", group},
            {"matrices", std::move(matrices)},
            {"checksums", std::move(checksums)}};
}

bool is_packed_export(const fs::path& path) {
    const fs::path config = path / "config.json";
    if (!fs::is_directory(path) || !fs::is_regular_file(config)) return false;
    try {
        const auto j = read_json(config);
        const auto q = j.find("quantization_config");
        return q != j.end() && q->is_object() && q->value("quant_method", "") == "scalebits";
    } catch (const InputError&) {
        return false;
    }
}

namespace {
PackedExport read_export(const fs::path& folder) {
    const fs::path config_path = folder / "config.json";
    const fs::path model_path = folder / "model.safetensors";
    const nlohmann::json config = read_json(config_path);
    PackedExport out;
    out.config = hf_config_from_json(config, config_path);
    out.quantization = config.value("quantization_config", nlohmann::json::object());
    const auto v = out.quantization.find("format_version");
    const int version = v == out.quantization.end() ? 0 : json_integer<int>(*v, config_path, "format_version");
    if (version != kExportFormatVersion)
        throw InputError(config_path, "export format version " + std::to_string(version) + " is not supported (this build reads " +
                                          std::to_string(kExportFormatVersion) + ")");
    if (!fs::is_regular_file(model_path)) throw InputError(model_path, "is missing from the export folder");

    SafetensorsFile file = read_safetensors(model_path);
    const auto meta_it = file.metadata.find(kExportMetadataKey);
    if (meta_it == file.metadata.end())
        throw InputError(model_path, std::string("has no \"") + kExportMetadataKey + "\" metadata: not a scalebits export");
    nlohmann::json meta;
    try {
        meta = nlohmann::json::parse(meta_it->second);
    } catch (const nlohmann::json::exception& e) {
        throw InputError(model_path, std::string("export metadata is not valid JSON: ") + e.what());
    }
    const auto& checksums = meta.at("checksums");
    std::map<std::string, const HostTensor*> by_name;
    for (const auto& t : file.tensors) {
        by_name[t.name] = &t;
        const auto c = checksums.find(t.name);
        if (c == checksums.end()) throw InputError(model_path, "tensor " + t.name + " has no checksum in the metadata");
        if (c->get<std::string>() != xxh3_64_hex(t.bytes))
            throw InputError(model_path, "tensor " + t.name + " does not match its checksum: the file is corrupt");
    }
    auto need = [&](const std::string& name) -> const HostTensor& {
        auto it = by_name.find(name);
        if (it == by_name.end()) throw InputError(model_path, "has no tensor " + name);
        return *it->second;
    };

    const auto tile = meta.at("tile");
    auto size = [&](const nlohmann::json& v, const std::string& what) { return json_integer<std::size_t>(v, model_path, what); };
    const std::size_t group = size(meta.at("group"), "the group size");
    std::map<std::string, bool> quantized_part;
    for (const auto& [name, shape] : meta.at("matrices").items()) {
        PackedLinear p;
        p.view.grid = {size(shape.at(0), name + "'s rows"), size(shape.at(1), name + "'s columns"),
                       size(tile.at(0), "the tile height"), size(tile.at(1), "the tile width"), group};
        const std::string base = packed_base_name(name);
        const HostTensor& data = need(base + ".qdata");
        const HostTensor& offsets = need(base + ".qoffsets");
        const HostTensor& widths = need(base + ".qwidths");
        if (data.dtype != DType::U8 || offsets.dtype != DType::I64 || widths.dtype != DType::U8)
            throw InputError(model_path, "packed tensors of " + name + " have the wrong dtypes");
        try {
            p.view.grid.validate();  // before tile_count(): a zero tile shape would divide by zero
        } catch (const std::invalid_argument& e) {
            throw InputError(model_path, name + ": " + e.what());
        }
        const std::size_t tiles = p.view.grid.tile_count();
        if (static_cast<std::size_t>(widths.numel()) != tiles || static_cast<std::size_t>(offsets.numel()) != tiles)
            throw InputError(model_path, name + ": width map or offsets do not have one entry per tile (" +
                                             std::to_string(tiles) + ")");
        // Three owners: the data, the offsets and the width map may each need an aligned copy.
        std::shared_ptr<const void> o_data, o_offsets;
        const auto d = aligned(data, 16, o_data);
        const auto o = aligned(offsets, 8, o_offsets);
        p.view.data = d.data();
        p.view.data_bytes = d.size();
        p.view.tile_offsets = reinterpret_cast<const std::uint64_t*>(o.data());
        p.view.widths = widths.bytes.data();
        p.owner = std::make_shared<std::tuple<std::shared_ptr<const void>, std::shared_ptr<const void>,
                                              std::shared_ptr<const void>>>(o_data, o_offsets, widths.owner);
        try {
            kernels::validate(p.view);
        } catch (const std::invalid_argument& e) {
            throw InputError(model_path, name + ": " + e.what());
        }
        quantized_part[base + ".qdata"] = quantized_part[base + ".qoffsets"] = quantized_part[base + ".qwidths"] = true;
        out.packed.emplace(name, std::move(p));
    }
    for (auto& t : file.tensors)
        if (!quantized_part.count(t.name)) {
            std::string name = t.name;
            out.tensors.emplace(std::move(name), std::move(t));
        }
    for (const char* tok : {"tokenizer.gguf", "tokenizer.bin", "tokenizer.json"})
        if (fs::is_regular_file(folder / tok)) {
            out.tokenizer_file = folder / tok;
            break;
        }
    return out;
}

}  // namespace

PackedExport read_packed_export(const fs::path& folder) {
    try {
        return read_export(folder);
    } catch (const nlohmann::json::exception& e) {
        throw InputError(folder / "model.safetensors", std::string("export metadata is malformed: ") + e.what());
    }
}

}  // namespace scalebits::io
