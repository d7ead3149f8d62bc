#pragma once
// A minimal safetensors writer for tests: tensors are laid out back to back in the order given, or
// the caller passes a raw header to build deliberately broken files.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_bytes.h"

namespace scalebits::testing {

struct StTensor {
    std::string name;
    std::string dtype;  // "F32", "F16", ...
    std::vector<std::int64_t> shape;
    Bytes data;
};

// 8-byte little-endian header length, the header text, then the data.
inline Bytes safetensors_raw(const std::string& header, const Bytes& data) {
    Bytes b;
    put<std::uint64_t>(b, header.size());
    put_bytes(b, header.data(), header.size());
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

inline Bytes safetensors_bytes(const std::vector<StTensor>& tensors, const nlohmann::json& metadata = nullptr) {
    nlohmann::json h = nlohmann::json::object();
    if (!metadata.is_null()) h["__metadata__"] = metadata;
    Bytes data;
    for (const StTensor& t : tensors) {
        const std::uint64_t begin = data.size();
        data.insert(data.end(), t.data.begin(), t.data.end());
        h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
    }
    return safetensors_raw(h.dump(), data);
}

inline StTensor f32_tensor(std::string name, std::vector<std::int64_t> shape, const std::vector<float>& values) {
    StTensor t{std::move(name), "F32", std::move(shape), {}};
    put_floats(t.data, values);
    return t;
}

}  // namespace scalebits::testing
