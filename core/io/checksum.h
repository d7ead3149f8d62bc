#pragma once
// Per-tensor checksums of exported files: XXH3-64 (libxxhash), written as 16 lowercase hex digits,
// so any xxhash binding (e.g. Python's xxhash.xxh3_64_hexdigest) can verify a tensor by hand.
#include <cstdint>
#include <span>
#include <string>

namespace scalebits::io {

std::uint64_t xxh3_64(std::span<const std::uint8_t> bytes);
std::string xxh3_64_hex(std::span<const std::uint8_t> bytes);

}  // namespace scalebits::io
