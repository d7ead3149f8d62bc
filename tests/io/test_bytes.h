#pragma once
// Byte-building helpers shared by the io tests: little-endian appends and file writing. Tests build
// every fixture in code, so each broken case is one visible edit of a valid file.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace scalebits::testing {

using Bytes = std::vector<std::uint8_t>;

template <typename T>
inline void put(Bytes& b, T v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
}

inline void put_bytes(Bytes& b, const void* data, std::size_t n) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    b.insert(b.end(), p, p + n);
}

inline void put_floats(Bytes& b, const std::vector<float>& v) { put_bytes(b, v.data(), v.size() * sizeof(float)); }

inline void write_file(const std::filesystem::path& p, const Bytes& b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

inline void write_text(const std::filesystem::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << s;
}

}  // namespace scalebits::testing
