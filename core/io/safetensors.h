#pragma once
// Safetensors reader, single file or a sharded folder (model.safetensors.index.json). Validation
// follows the reference reader: 8-byte little-endian header length, a JSON object header of at most
// 100 MB, known dtypes, data_offsets that tile the data region exactly, byte counts equal to
// numel * element size (64-bit overflow checked), no duplicate names. Tensors are spans into the
// memory map; each HostTensor's owner keeps its map alive.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/io/host_tensor.h"

namespace scalebits::io {

inline constexpr std::uint64_t kSafetensorsMaxHeader = 100'000'000;

struct SafetensorsFile {
    std::map<std::string, std::string> metadata;  // "__metadata__", empty when absent
    std::vector<HostTensor> tensors;              // in data-offset order

    const HostTensor* find(const std::string& name) const;  // nullptr when absent (linear scan)
};

// One .safetensors file. Throws FormatError naming the file and the problem.
SafetensorsFile read_safetensors(const std::filesystem::path& file);

// Parses an already mapped/loaded buffer; `owner` keeps `bytes` alive (may be null in tests).
SafetensorsFile parse_safetensors(std::span<const std::uint8_t> bytes, std::shared_ptr<const void> owner,
                                  const std::filesystem::path& source);

// A folder: model.safetensors.index.json (sharded) or model.safetensors. Also accepts a single file
// path. Returns all tensors by name; metadata of every shard merged (first wins).
SafetensorsFile read_safetensors_model(const std::filesystem::path& path);

}  // namespace scalebits::io
