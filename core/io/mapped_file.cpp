#include "core/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/util/error.h"

namespace scalebits::io {

std::shared_ptr<const MappedFile> MappedFile::open(const std::filesystem::path& path) {
    std::shared_ptr<MappedFile> f(new MappedFile());
    f->path_ = path;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw InputError(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        throw InputError(path, std::string("cannot stat: ") + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw InputError(path, "not a regular file");
    }
    f->size_ = static_cast<std::size_t>(st.st_size);
    if (f->size_ > 0) {
        void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int e = errno;
            ::close(fd);
            throw InputError(path, std::string("cannot map: ") + std::strerror(e));
        }
        f->data_ = static_cast<const std::uint8_t*>(p);
    }
    ::close(fd);
    return f;
}

void MappedFile::release(std::span<const std::uint8_t> range) {
    if (range.empty()) return;
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<std::uintptr_t>(range.data());
    const auto end = begin + range.size();
    const std::uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
    // Only the pages wholly inside the range: a neighbour sharing an edge page keeps it. The map is
    // private and never written, so the dropped pages come back unchanged from the file.
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
    if (data_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
}

}  // namespace scalebits::io
