#include "core/io/safetensors_writer.h"

#include "core/io/checksum.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "core/io/atomic_file.h"
#include "core/util/error.h"

namespace scalebits::io {

namespace {
std::int64_t element_size(const std::string& dtype) {
    if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
    if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
    if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
    if (dtype == "I8" || dtype == "U8" || dtype == "BOOL") return 1;
    throw InputError("safetensors writer: unknown dtype " + dtype);
}

template <typename T>
std::span<const std::uint8_t> own(std::shared_ptr<const void>& keep, const std::vector<T>& v) {
    auto copy = std::make_shared<std::vector<T>>(v);
    keep = copy;
    return {reinterpret_cast<const std::uint8_t*>(copy->data()), copy->size() * sizeof(T)};
}
}  // namespace

void SafetensorsWriter::add(const std::string& name, const std::string& dtype, std::vector<std::int64_t> shape,
                            std::span<const std::uint8_t> bytes, std::shared_ptr<const void> keep) {
    std::int64_t n = element_size(dtype);
    for (auto d : shape) {
        if (d < 0 || (d > 0 && n > INT64_MAX / d)) throw InputError("safetensors writer: bad shape for " + name);
        n *= d;
    }
    if (static_cast<std::uint64_t>(n) != bytes.size())
        throw InputError("safetensors writer: " + name + " has " + std::to_string(bytes.size()) +
                         " bytes, its shape needs " + std::to_string(n));
    entries_.push_back({name, dtype, std::move(shape), bytes, std::move(keep), {}, {}, bytes.size()});
}

void SafetensorsWriter::add_generated(const std::string& name, const std::string& dtype, std::vector<std::int64_t> shape,
                                      Generator fill) {
    std::int64_t n = element_size(dtype);
    for (auto d : shape) {
        if (d < 0 || (d > 0 && n > INT64_MAX / d)) throw InputError("safetensors writer: bad shape for " + name);
        n *= d;
    }
    entries_.push_back({name, dtype, std::move(shape), {}, nullptr, {}, std::move(fill), static_cast<std::uint64_t>(n)});
}

void SafetensorsWriter::add_mapped(const std::string& name, const HostTensor& t) {
    std::vector<std::int64_t> shape = t.shape;
    add(name, dtype_name(t.dtype), std::move(shape), t.bytes, t.owner);
    entries_.back().mapped_copy = t;
}

void SafetensorsWriter::add_f32(const std::string& name, std::vector<std::int64_t> shape, const std::vector<float>& v) {
    std::shared_ptr<const void> keep;
    auto bytes = own(keep, v);
    add(name, "F32", std::move(shape), bytes, keep);
}

void SafetensorsWriter::add_f64(const std::string& name, std::vector<std::int64_t> shape, const std::vector<double>& v) {
    std::shared_ptr<const void> keep;
    auto bytes = own(keep, v);
    add(name, "F64", std::move(shape), bytes, keep);
}

void SafetensorsWriter::add_i64(const std::string& name, std::vector<std::int64_t> shape,
                                const std::vector<std::int64_t>& v) {
    std::shared_ptr<const void> keep;
    auto bytes = own(keep, v);
    add(name, "I64", std::move(shape), bytes, keep);
}

std::string SafetensorsWriter::header() const {
    nlohmann::ordered_json h = nlohmann::ordered_json::object();
    auto metadata = metadata_;
    if (!checksum_key_.empty()) {
        nlohmann::json sums = nlohmann::json::object();
        for (const auto& e : entries_) {
            if (e.generate) throw InputError("safetensors writer: checksums of generated tensors are not supported");
            sums[e.name] = xxh3_64_hex(e.bytes);
            e.mapped_copy.release_pages();
        }
        metadata[checksum_key_] = sums.dump();
    }
    if (!metadata.empty()) h["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    std::set<std::string> names;
    for (const auto& e : entries_) {
        if (!names.insert(e.name).second) throw InputError("safetensors writer: tensor " + e.name + " added twice");
        h[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {offset, offset + e.size}}};
        offset += e.size;
    }
    std::string s = h.dump();
    // Spaces up to a 16-byte aligned data section (8 length bytes + header), so tensors whose sizes
    // are multiples of 16 start 16-byte aligned in a mapped file (the packed kernels' loads).
    s.append((16 - (8 + s.size()) % 16) % 16, ' ');
    return s;
}

std::uint64_t SafetensorsWriter::file_size() const {
    std::uint64_t n = 8 + header().size();
    for (const auto& e : entries_) n += e.size;
    return n;
}

void SafetensorsWriter::write(const std::filesystem::path& path, const Progress& progress) const {
    const std::string h = header();
    AtomicFile f(path);
    std::uint8_t len[8];
    std::uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<std::uint8_t>(n >> (8 * i));
    f.write({len, 8});
    f.write(h);
    // A large model is gigabytes: a cancel waits for one 64 MiB piece at most (the temporary file
    // is removed by AtomicFile's destructor).
    constexpr std::size_t kPiece = std::size_t(64) << 20;
    std::vector<std::uint8_t> buffer;
    for (const auto& e : entries_) {
        if (e.generate) {
            buffer.resize(std::min<std::uint64_t>(kPiece, e.size));
            for (std::uint64_t at = 0; at < e.size; at += kPiece) {
                progress.check();
                const std::span<std::uint8_t> piece(buffer.data(), std::min<std::uint64_t>(kPiece, e.size - at));
                e.generate(at, piece);
                f.write(piece);
            }
            continue;
        }
        for (std::size_t at = 0; at < e.bytes.size(); at += kPiece) {
            progress.check();
            f.write(e.bytes.subspan(at, std::min(kPiece, e.bytes.size() - at)));
            e.mapped_copy.release_pages();
        }
    }
    progress.check();
    f.commit();
}

}  // namespace scalebits::io
