#pragma once
// Writes a safetensors file (8-byte little-endian header length, JSON header padded with spaces so
// the data section starts 16-byte aligned, then the tensors back to back in the order added), atomically. The reader in
// safetensors.h accepts exactly what this writes.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/io/host_tensor.h"
#include "core/util/cancel.h"

namespace scalebits::io {

class SafetensorsWriter {
public:
    // dtype is a safetensors dtype name ("F32", "F16", "F64", "I64", "I32", "U8", ...). The bytes
    // must stay alive until write(); `keep` may hold them.
    void add(const std::string& name, const std::string& dtype, std::vector<std::int64_t> shape,
             std::span<const std::uint8_t> bytes, std::shared_ptr<const void> keep = nullptr);
    // A tensor of a mapped file (another safetensors file's), written without a copy; its pages are
    // handed back once checksummed and once written, so copying a large file keeps little resident.
    void add_mapped(const std::string& name, const HostTensor& tensor);
    // A tensor whose bytes are produced while the file is written, piece by piece: `fill(offset, out)`
    // writes bytes [offset, offset + out.size()) of it. For files larger than memory (synthetic
    // models); not with add_checksums, which needs every byte before the header.
    using Generator = std::function<void(std::uint64_t offset, std::span<std::uint8_t> out)>;
    void add_generated(const std::string& name, const std::string& dtype, std::vector<std::int64_t> shape,
                       Generator fill);
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
        HostTensor mapped_copy;  // set by add_mapped: its pages are released after each read
        Generator generate;      // set by add_generated (then `bytes` is empty and `size` counts)
        std::uint64_t size = 0;
    };
    std::string header() const;
    std::vector<Entry> entries_;
    std::map<std::string, std::string> metadata_;
    std::string checksum_key_;
};

}  // namespace scalebits::io
