#pragma once
// A tensor as stored in a checkpoint: raw bytes (memory-mapped or owned), a storage type and a shape.
// Loaders hand these to the model, which dequantizes to fp32 once at load. No LibTorch here, so the
// parsers compile fast and can be fuzzed alone.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace scalebits::io {

enum class DType {
    F32, F16, BF16, F64, I8, I16, I32, I64, U8, BOOL,
    // GGML block formats (32 weights a block)
    Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
    // GGML k-quants (256 weights a super-block)
    Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
};

const char* dtype_name(DType t);

// Weights per block and bytes per block (1 and the element size for plain types).
struct DTypeLayout {
    std::int64_t block_elems;
    std::int64_t block_bytes;
};
DTypeLayout dtype_layout(DType t);

// Bytes for `elems` values, or -1 if elems is not a whole number of blocks or the count overflows.
std::int64_t dtype_bytes_for(DType t, std::int64_t elems);

struct HostTensor {
    std::string name;
    DType dtype = DType::F32;
    // Row-major, outermost first (PyTorch order: a Linear weight is {out, in}).
    std::vector<std::int64_t> shape;
    std::span<const std::uint8_t> bytes;
    // Keeps the bytes alive: a mapped file or an owned buffer.
    std::shared_ptr<const void> owner;
    // The bytes lie in a read-only private file mapping (set by the file readers), so their pages can
    // be dropped after use and are read again from the file when touched.
    bool file_mapped = false;

    std::int64_t numel() const;
    // Dequantizes/converts to fp32, row-major in `shape` order. Throws FormatError on a size mismatch.
    std::vector<float> to_float() const;
    // Rows [first, first + count) of the outermost dimension, converted the same way into `out`
    // (count * row elements). Layer streaming reads a tensor's rows where they lie, in their stored
    // type, without converting the whole tensor. Throws FormatError on a size mismatch or a row that
    // is not a whole number of blocks, InputError on a range outside the tensor.
    void rows_to_float(std::int64_t first, std::int64_t count, float* out) const;
    // Elements in one row of the outermost dimension (1 for a scalar or a vector's element).
    std::int64_t row_elements() const;
    // Hands the tensor's whole pages back to the kernel when they are a file mapping (a no-op for owned
    // bytes): after a layer is converted its mapped weights stop counting as resident memory.
    void release_pages() const;
    // A tensor that owns its fp32 values.
    static HostTensor from_floats(std::string name, std::vector<std::int64_t> shape, std::vector<float> values);
};

}  // namespace scalebits::io
