#pragma once
// Writes a safetensors file (8-byte little-endian header length, JSON header padded with spaces so
// the data section starts 16-byte aligned, then the tensors back to back in the order added), atomically. The reader in
// safetensors.h accepts exactly what this writes.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/util/cancel.h"

namespace scalebits::io {

class SafetensorsWriter {
public:
    // dtype is a safetensors dtype name ("F32", "F16", "F64", "I64", "I32", "U8", ...). The bytes
    // must stay alive until write(); `keep` may hold them.
    void add(const std::string& name, const std::string& dtype, std::vector<std::int64_t> shape,
             std::span<const std::uint8_t> bytes, std::shared_ptr<const void> keep = nullptr);
    // Convenience: copies the values.
    void add_f32(const std::string& name, std::vector<std::int64_t> shape, const std::vector<float>& v);
    void add_f64(const std::string& name, std::vector<std::int64_t> shape, const std::vector<double>& v);
    void add_i64(const std::string& name, std::vector<std::int64_t> shape, const std::vector<std::int64_t>& v);
    void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
    // Also write metadata[key] = JSON {tensor name: XXH3-64 hex of its bytes} (io/checksum.h).
    void add_checksums(const std::string& key) { checksum_key_ = key; }

    // Bytes the file will have.
    std::uint64_t file_size() const;
    // Throws InputError on a name used twice, a byte count that does not match the shape, or an
    // I/O error (no space left...): the previous file under `path`, if any, stays intact. Checks
    // `progress`'s token every 64 MiB: a cancelled write throws CancelledError the same way.
    void write(const std::filesystem::path& path, const Progress& progress = {}) const;

private:
    struct Entry {
        std::string name, dtype;
        std::vector<std::int64_t> shape;
        std::span<const std::uint8_t> bytes;
        std::shared_ptr<const void> keep;
    };
    std::string header() const;
    std::vector<Entry> entries_;
    std::map<std::string, std::string> metadata_;
    std::string checksum_key_;
};

}  // namespace scalebits::io
