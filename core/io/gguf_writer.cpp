#include "core/io/gguf_writer.h"

#include <cstring>

#include "core/io/atomic_file.h"
#include "core/util/error.h"

namespace scalebits::io {

namespace {
template <typename T>
void put(std::vector<std::uint8_t>& b, T v) {
    std::uint8_t raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));  // little-endian hosts only, like the reader
    b.insert(b.end(), raw, raw + sizeof(T));
}

void put_string(std::vector<std::uint8_t>& b, const std::string& s) {
    put<std::uint64_t>(b, s.size());
    b.insert(b.end(), s.begin(), s.end());
}

void put_value(std::vector<std::uint8_t>& b, const GgufValue& v) {
    switch (v.type) {
        case GgufType::U8: put<std::uint8_t>(b, static_cast<std::uint8_t>(v.u)); break;
        case GgufType::I8: put<std::int8_t>(b, static_cast<std::int8_t>(v.i)); break;
        case GgufType::U16: put<std::uint16_t>(b, static_cast<std::uint16_t>(v.u)); break;
        case GgufType::I16: put<std::int16_t>(b, static_cast<std::int16_t>(v.i)); break;
        case GgufType::U32: put<std::uint32_t>(b, static_cast<std::uint32_t>(v.u)); break;
        case GgufType::I32: put<std::int32_t>(b, static_cast<std::int32_t>(v.i)); break;
        case GgufType::F32: put<float>(b, static_cast<float>(v.f)); break;
        case GgufType::BOOL: put<std::uint8_t>(b, v.u ? 1 : 0); break;
        case GgufType::STRING: put_string(b, v.s); break;
        case GgufType::U64: put<std::uint64_t>(b, v.u); break;
        case GgufType::I64: put<std::int64_t>(b, v.i); break;
        case GgufType::F64: put<double>(b, v.f); break;
        case GgufType::ARRAY:
            put<std::uint32_t>(b, static_cast<std::uint32_t>(v.elem_type));
            put<std::uint64_t>(b, v.array.size());
            for (const auto& e : v.array) {
                if (e.type != v.elem_type) throw InputError("GGUF writer: array element of the wrong type");
                put_value(b, e);
            }
            break;
    }
}
}  // namespace

std::vector<std::uint8_t> gguf_metadata_file(const std::map<std::string, GgufValue>& metadata) {
    std::vector<std::uint8_t> b = {'G', 'G', 'U', 'F'};
    put<std::uint32_t>(b, 3);
    put<std::uint64_t>(b, 0);  // tensors
    put<std::uint64_t>(b, metadata.size());
    for (const auto& [key, value] : metadata) {
        put_string(b, key);
        put<std::uint32_t>(b, static_cast<std::uint32_t>(value.type));
        put_value(b, value);
    }
    return b;
}

void write_gguf_metadata(const std::filesystem::path& path, const std::map<std::string, GgufValue>& metadata) {
    const auto bytes = gguf_metadata_file(metadata);
    AtomicFile f(path);
    f.write(bytes);
    f.commit();
}

}  // namespace scalebits::io
