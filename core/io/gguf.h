#pragma once
// GGUF reader (versions 2 and 3, little-endian). Every count, length and offset is checked against
// the bytes that remain before anything is allocated from it, so a hostile header cannot make the
// reader allocate more than the file could hold. Tensor shapes are converted to PyTorch order
// (GGUF lists ne[0], the innermost/column count, first).
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/io/host_tensor.h"

namespace scalebits::io {

enum class GgufType : std::uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
    STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value. Integers (and bools) fill both `u` and `i` when they fit; floats fill `f`.
struct GgufValue {
    GgufType type = GgufType::U8;
    std::uint64_t u = 0;
    std::int64_t i = 0;
    bool fits_i64 = true;   // false for a U64 above INT64_MAX
    double f = 0.0;
    std::string s;
    GgufType elem_type = GgufType::U8;  // for arrays
    std::vector<GgufValue> array;

    bool is_integer() const;
    bool is_float() const { return type == GgufType::F32 || type == GgufType::F64; }
};

inline constexpr std::uint64_t kGgufDefaultAlignment = 32;
inline constexpr std::uint32_t kGgufMaxDims = 4;

struct GgufFile {
    std::uint32_t version = 0;
    std::uint64_t alignment = kGgufDefaultAlignment;
    std::uint64_t data_offset = 0;  // absolute file offset of the tensor data section
    std::map<std::string, GgufValue> metadata;
    std::vector<HostTensor> tensors;  // in file order, PyTorch shapes, spans into the map
    std::vector<std::uint32_t> ggml_types;  // the raw type id of each tensor (same order)
    std::filesystem::path source;

    const GgufValue* find(const std::string& key) const;
    // Typed getters: nullopt when absent, FormatError (naming the key) when the type is wrong.
    std::optional<std::int64_t> get_int(const std::string& key) const;
    std::optional<double> get_float(const std::string& key) const;  // accepts integers too
    std::optional<std::string> get_string(const std::string& key) const;
    std::optional<bool> get_bool(const std::string& key) const;
    const HostTensor* tensor(const std::string& name) const;
};

GgufFile read_gguf(const std::filesystem::path& file);
GgufFile parse_gguf(std::span<const std::uint8_t> bytes, std::shared_ptr<const void> owner,
                    const std::filesystem::path& source);

// Maps a ggml type id to a DType; nullopt for types this reader does not know.
std::optional<DType> dtype_from_ggml(std::uint32_t ggml_type);

}  // namespace scalebits::io
