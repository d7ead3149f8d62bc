#pragma once
// Writes a GGUF v3 file holding metadata only (no tensors): how an export carries a tokenizer that
// came from a GGUF model (its tokenizer.ggml.* keys, unchanged), readable by read_gguf and by any
// GGUF tool. Values are encoded from GgufValue as read_gguf decodes them.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/io/gguf.h"

namespace scalebits::io {

std::vector<std::uint8_t> gguf_metadata_file(const std::map<std::string, GgufValue>& metadata);

// Atomically; throws InputError naming the file on an I/O error.
void write_gguf_metadata(const std::filesystem::path& path, const std::map<std::string, GgufValue>& metadata);

}  // namespace scalebits::io
