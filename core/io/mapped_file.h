#pragma once
// A read-only memory map of a whole file. Parsers validate against size() before touching bytes,
// so nothing larger than the file is ever allocated from untrusted lengths.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>

namespace scalebits::io {

class MappedFile {
public:
    // Throws InputError naming the file when it cannot be opened or mapped.
    static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::uint8_t* data() const { return data_; }
    std::size_t size() const { return size_; }
    std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
    const std::filesystem::path& path() const { return path_; }

    // Hands the whole pages inside `range` (a part of some MappedFile) back to the kernel: they stop
    // counting as resident memory and are read from the file again when touched. A pass over a
    // model larger than memory releases each piece after use.
    static void release(std::span<const std::uint8_t> range);

private:
    MappedFile() = default;
    std::filesystem::path path_;
    const std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace scalebits::io
