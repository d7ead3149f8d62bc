#include "core/io/checksum.h"

#include <xxhash.h>

#include <cstdio>

namespace scalebits::io {

std::uint64_t xxh3_64(std::span<const std::uint8_t> bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

std::string xxh3_64_hex(std::span<const std::uint8_t> bytes) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(xxh3_64(bytes)));
    return buf;
}

}  // namespace scalebits::io
