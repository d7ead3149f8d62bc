#include "core/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/util/error.h"

namespace scalebits::io {

namespace {
std::string errno_text(int e) { return std::strerror(e); }
}  // namespace

AtomicFile::AtomicFile(std::filesystem::path final_path) : final_(std::move(final_path)) {
    std::filesystem::path dir = final_.parent_path();
    if (dir.empty()) dir = ".";
    std::string templ = (dir / ("." + final_.filename().string() + ".tmp-XXXXXX")).string();
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    fd_ = ::mkstemp(buf.data());
    if (fd_ < 0) throw InputError(final_, "cannot create a temporary file beside it: " + errno_text(errno));
    temp_ = buf.data();
    ::fchmod(fd_, 0644);
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFile::write(std::span<const std::uint8_t> bytes) {
    if (fd_ < 0) throw InputError(final_, "write after commit");
    const std::uint8_t* p = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
        const ssize_t n = ::write(fd_, p, std::min<std::size_t>(left, 1u << 30));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw InputError(final_, "cannot write: " + errno_text(errno));
        }
        p += n;
        left -= static_cast<std::size_t>(n);
        written_ += static_cast<std::uint64_t>(n);
    }
}

void AtomicFile::commit() {
    if (fd_ < 0) throw InputError(final_, "commit twice");
    if (::fsync(fd_) != 0) throw InputError(final_, "cannot flush to disk: " + errno_text(errno));
    if (::close(fd_) != 0) {
        fd_ = -1;
        throw InputError(final_, "cannot close: " + errno_text(errno));
    }
    fd_ = -1;
    if (::rename(temp_.c_str(), final_.c_str()) != 0)
        throw InputError(final_, "cannot rename the temporary file into place: " + errno_text(errno));
    committed_ = true;
    std::filesystem::path dir = final_.parent_path();
    if (dir.empty()) dir = ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

void write_file_atomic(const std::filesystem::path& path, const std::string& contents) {
    AtomicFile f(path);
    f.write(contents);
    f.commit();
}

}  // namespace scalebits::io
