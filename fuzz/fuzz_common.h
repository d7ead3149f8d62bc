#pragma once
// Shared by the libFuzzer targets: every parser must either accept an input or throw one of the
// project's typed errors (InputError/FormatError, both std::runtime_error). Anything else (a crash,
// a sanitizer report, another exception type escaping, a hang) is a finding.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <unistd.h>

#include "core/util/error.h"

namespace scalebits::fuzz {

// A per-process scratch file for parsers that take a path (they map the file like real use does).
inline std::filesystem::path scratch(const char* name) {
    static const std::filesystem::path dir = [] {
        auto d = std::filesystem::temp_directory_path() / ("scalebits-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    return dir / name;
}

inline void write(const std::filesystem::path& p, const std::uint8_t* data, std::size_t size) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

// Runs `fn`, swallowing the typed errors a bad input is allowed to raise.
template <typename Fn>
void expect_typed_errors(Fn&& fn) {
    try {
        fn();
    } catch (const InputError&) {  // FormatError is an InputError
    }
}

}  // namespace scalebits::fuzz
