#pragma once
// The scratch folder of a layer-streamed job (analysis, export): each finished piece is one small
// safetensors file written atomically with a checksum per tensor, so a piece is either whole or
// absent, and a cancelled or killed job finds what it finished. Pieces are read back mapped and their
// pages handed back after use, so a folder of gigabytes is never held resident.
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"

namespace scalebits::analysis::work {

std::filesystem::path part_path(const std::filesystem::path& dir, const std::string& name);

// Writes piece `file` (F32, F64, I64, F16 or U8 tensors, any device) with `meta` under the metadata
// key "scalebits.part" when given. Throws InputError on an I/O error.
void write_part(const std::filesystem::path& file, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                const nlohmann::json& meta = nullptr);

// A finished piece, or nothing when it is absent or does not read back whole (a corrupt piece is
// removed, so it is redone).
std::optional<io::SafetensorsFile> read_part(const std::filesystem::path& dir, const std::string& name);

// A piece's tensor; FormatError naming the file when it is missing.
const io::HostTensor& part_tensor(const io::SafetensorsFile& f, const std::string& name, const std::filesystem::path& file);
// A copy of a piece's F32 or F64 tensor as a LibTorch tensor of the expected shape.
torch::Tensor part_torch(const io::SafetensorsFile& f, const std::string& name, const std::vector<std::int64_t>& shape,
                         const std::filesystem::path& file);
std::vector<double> part_doubles(const io::SafetensorsFile& f, const std::string& name, std::int64_t n,
                                 const std::filesystem::path& file);

// Bytes of the regular files in `dir`.
std::uint64_t folder_bytes(const std::filesystem::path& dir);

}  // namespace scalebits::analysis::work
