#include "core/io/rope_layout.h"

#include <cstring>
#include <vector>

#include "core/util/error.h"

namespace scalebits::io {

std::int64_t interleaved_source_row(std::int64_t r, std::int64_t head_dim) {
    const std::int64_t h = r / head_dim, j = r % head_dim, half = head_dim / 2;
    return h * head_dim + (j < half ? 2 * j : 2 * (j - half) + 1);
}

HostTensor interleaved_to_rotate_half(const HostTensor& t, std::int64_t n_heads, std::int64_t head_dim,
                                      const std::filesystem::path& source) {
    if (t.shape.empty() || t.shape.size() > 2 || head_dim <= 0 || head_dim % 2 != 0 || t.shape[0] != n_heads * head_dim)
        throw FormatError(source, "tensor '" + t.name + "' cannot be RoPE-permuted: expected " +
                                      std::to_string(n_heads * head_dim) + " rows of " + std::to_string(n_heads) +
                                      " heads x " + std::to_string(head_dim));
    const std::int64_t rows = t.shape[0];
    const std::int64_t row_bytes = dtype_bytes_for(t.dtype, t.shape.size() == 2 ? t.shape[1] : 1);  // a bias: one value a row
    if (row_bytes < 0 || static_cast<std::uint64_t>(row_bytes * rows) != t.bytes.size())
        throw FormatError(source, "tensor '" + t.name + "': rows are not whole " + dtype_name(t.dtype) + " blocks");
    auto buf = std::make_shared<std::vector<std::uint8_t>>(t.bytes.size());
    for (std::int64_t r = 0; r < rows; ++r)
        std::memcpy(buf->data() + r * row_bytes, t.bytes.data() + interleaved_source_row(r, head_dim) * row_bytes,
                    static_cast<std::size_t>(row_bytes));
    HostTensor out;
    out.name = t.name;
    out.dtype = t.dtype;
    out.shape = t.shape;
    out.bytes = {buf->data(), buf->size()};
    out.owner = std::move(buf);
    return out;
}

}  // namespace scalebits::io
