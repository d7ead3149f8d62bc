#include "core/io/host_tensor.h"

#include <array>
#include <cstring>
#include <limits>

#include "core/io/ggml_dequant.h"
#include "core/io/mapped_file.h"
#include "core/util/error.h"

namespace scalebits::io {

const char* dtype_name(DType t) {
    switch (t) {
        case DType::F32: return "F32";
        case DType::F16: return "F16";
        case DType::BF16: return "BF16";
        case DType::F64: return "F64";
        case DType::I8: return "I8";
        case DType::I16: return "I16";
        case DType::I32: return "I32";
        case DType::I64: return "I64";
        case DType::U8: return "U8";
        case DType::BOOL: return "BOOL";
        case DType::Q4_0: return "Q4_0";
        case DType::Q4_1: return "Q4_1";
        case DType::Q5_0: return "Q5_0";
        case DType::Q5_1: return "Q5_1";
        case DType::Q8_0: return "Q8_0";
        case DType::Q2_K: return "Q2_K";
        case DType::Q3_K: return "Q3_K";
        case DType::Q4_K: return "Q4_K";
        case DType::Q5_K: return "Q5_K";
        case DType::Q6_K: return "Q6_K";
    }
    return "?";
}

DTypeLayout dtype_layout(DType t) {
    switch (t) {
        case DType::F32: return {1, 4};
        case DType::F16: return {1, 2};
        case DType::BF16: return {1, 2};
        case DType::F64: return {1, 8};
        case DType::I8: return {1, 1};
        case DType::I16: return {1, 2};
        case DType::I32: return {1, 4};
        case DType::I64: return {1, 8};
        case DType::U8: return {1, 1};
        case DType::BOOL: return {1, 1};
        // ggml block sizes: the static_asserts in ggml_dequant.h pin the byte counts to the structs.
        case DType::Q4_0: return {32, ggml::kQ4_0Bytes};
        case DType::Q4_1: return {32, ggml::kQ4_1Bytes};
        case DType::Q5_0: return {32, ggml::kQ5_0Bytes};
        case DType::Q5_1: return {32, ggml::kQ5_1Bytes};
        case DType::Q8_0: return {32, ggml::kQ8_0Bytes};
        case DType::Q2_K: return {256, ggml::kQ2_KBytes};
        case DType::Q3_K: return {256, ggml::kQ3_KBytes};
        case DType::Q4_K: return {256, ggml::kQ4_KBytes};
        case DType::Q5_K: return {256, ggml::kQ5_KBytes};
        case DType::Q6_K: return {256, ggml::kQ6_KBytes};
    }
    return {1, 1};
}

std::int64_t dtype_bytes_for(DType t, std::int64_t elems) {
    const DTypeLayout l = dtype_layout(t);
    if (elems < 0 || elems % l.block_elems != 0) return -1;
    const std::int64_t blocks = elems / l.block_elems;
    if (blocks > std::numeric_limits<std::int64_t>::max() / l.block_bytes) return -1;
    return blocks * l.block_bytes;
}

std::int64_t HostTensor::numel() const {
    std::int64_t n = 1;
    for (std::int64_t d : shape) {
        if (d < 0) return -1;
        if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d) return -1;
        n *= d;
    }
    return n;
}

namespace {

template <typename T>
void convert_plain(const std::uint8_t* src, float* dst, std::int64_t n) {
    // memcpy per element: the map gives no alignment guarantee for the element type.
    for (std::int64_t i = 0; i < n; ++i) {
        T v;
        std::memcpy(&v, src + i * static_cast<std::int64_t>(sizeof(T)), sizeof(T));
        dst[i] = static_cast<float>(v);
    }
}

}  // namespace

namespace {

void check_size(const HostTensor& t) {
    const std::int64_t n = t.numel();
    if (n < 0) throw FormatError(t.name, "tensor shape is negative or its element count overflows");
    const std::int64_t want = dtype_bytes_for(t.dtype, n);
    if (want < 0)
        throw FormatError(t.name, std::string("element count ") + std::to_string(n) + " is not a whole number of " +
                                      dtype_name(t.dtype) + " blocks");
    if (static_cast<std::uint64_t>(want) != t.bytes.size())
        throw FormatError(t.name, "tensor holds " + std::to_string(t.bytes.size()) + " bytes, its shape and type need " +
                                      std::to_string(want));
}

// n values of type `dtype` from src (a whole number of blocks for block types) into dst.
void convert(const std::string& name, DType dtype, const std::uint8_t* src, float* dst, std::int64_t n) {
    switch (dtype) {
        case DType::F32: if (n) std::memcpy(dst, src, static_cast<std::size_t>(n) * 4); break;
        case DType::F64: convert_plain<double>(src, dst, n); break;
        case DType::F16:
            for (std::int64_t i = 0; i < n; ++i) dst[i] = ggml::fp16_to_fp32(ggml::load_u16(src + 2 * i));
            break;
        case DType::BF16:
            for (std::int64_t i = 0; i < n; ++i) dst[i] = ggml::bf16_to_fp32(ggml::load_u16(src + 2 * i));
            break;
        case DType::I8: convert_plain<std::int8_t>(src, dst, n); break;
        case DType::I16: convert_plain<std::int16_t>(src, dst, n); break;
        case DType::I32: convert_plain<std::int32_t>(src, dst, n); break;
        case DType::I64: convert_plain<std::int64_t>(src, dst, n); break;
        case DType::U8: convert_plain<std::uint8_t>(src, dst, n); break;
        case DType::BOOL:
            for (std::int64_t i = 0; i < n; ++i) dst[i] = src[i] ? 1.0f : 0.0f;
            break;
        default:
            if (!ggml::dequantize(dtype, src, dst, n))
                throw FormatError(name, std::string("dequantization of ") + dtype_name(dtype) + " is not supported");
    }
}

}  // namespace

std::vector<float> HostTensor::to_float() const {
    check_size(*this);
    std::vector<float> out(static_cast<std::size_t>(numel()));
    convert(name, dtype, bytes.data(), out.data(), numel());
    return out;
}

std::int64_t HostTensor::row_elements() const {
    std::int64_t n = 1;
    for (std::size_t i = 1; i < shape.size(); ++i) n *= shape[i];
    return n;
}

void HostTensor::rows_to_float(std::int64_t first, std::int64_t count, float* out) const {
    check_size(*this);
    const std::int64_t rows = shape.empty() ? 1 : shape[0];
    if (first < 0 || count < 0 || first > rows || count > rows - first)
        throw InputError(name, "rows " + std::to_string(first) + ".." + std::to_string(first + count) +
                                   " are outside the tensor's " + std::to_string(rows));
    const std::int64_t per_row = row_elements();
    const std::int64_t row_bytes = dtype_bytes_for(dtype, per_row);
    if (row_bytes < 0)
        throw FormatError(name, std::string("a row of ") + std::to_string(per_row) + " values is not a whole number of " +
                                    dtype_name(dtype) + " blocks");
    convert(name, dtype, bytes.data() + first * row_bytes, out, count * per_row);
}

void HostTensor::release_pages() const {
    if (file_mapped) MappedFile::release(bytes);
}

HostTensor HostTensor::from_floats(std::string name, std::vector<std::int64_t> shape, std::vector<float> values) {
    HostTensor t;
    t.name = std::move(name);
    t.dtype = DType::F32;
    t.shape = std::move(shape);
    const std::int64_t n = t.numel();
    if (n < 0 || static_cast<std::uint64_t>(n) != values.size())
        throw InputError(t.name, "from_floats: " + std::to_string(values.size()) + " values do not fill the shape");
    auto buf = std::make_shared<std::vector<float>>(std::move(values));
    t.bytes = {reinterpret_cast<const std::uint8_t*>(buf->data()), buf->size() * sizeof(float)};
    t.owner = std::move(buf);
    return t;
}

}  // namespace scalebits::io
