#pragma once
// Crash-safe file replacement: data goes to a temporary file in the destination folder, which is
// fsync'ed and renamed over the final name, then the folder is fsync'ed. A crash, a kill or a full
// disk leaves either the old file or the new one under the final name, never a half file, and the
// destructor removes the temporary file of a write that did not commit.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace scalebits::io {

class AtomicFile {
public:
    explicit AtomicFile(std::filesystem::path final_path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    // Throws InputError naming the final file on a write error (e.g. no space left on device).
    void write(std::span<const std::uint8_t> bytes);
    void write(const std::string& s) { write({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}); }
    std::uint64_t written() const { return written_; }
    // fsync, rename over the final name, fsync the folder.
    void commit();
    const std::filesystem::path& temp_path() const { return temp_; }

private:
    std::filesystem::path final_, temp_;
    int fd_ = -1;
    std::uint64_t written_ = 0;
    bool committed_ = false;
};

// Writes a whole small file atomically.
void write_file_atomic(const std::filesystem::path& path, const std::string& contents);

}  // namespace scalebits::io
