#pragma once
// RoPE row layouts of q_proj/k_proj. llama2.c and GGUF llama store each head's rows in the
// interleaved-pair layout (rows 2i and 2i+1 rotate together); the canonical checkpoint uses Hugging
// Face's rotate-half layout (rows i and i + hd/2 rotate together). Within each head of size hd:
//   canonical row h*hd + i        <- stored row h*hd + 2i
//   canonical row h*hd + hd/2 + i <- stored row h*hd + 2i + 1      (i < hd/2)
// Whole rows move, so quantized rows (whole blocks per row) are permuted without dequantizing.
#include <cstdint>
#include <filesystem>

#include "core/io/host_tensor.h"

namespace scalebits::io {

// The stored row that canonical row r comes from.
std::int64_t interleaved_source_row(std::int64_t r, std::int64_t head_dim);

// Returns an owned tensor (same dtype and shape) with rows in rotate-half order. The tensor must be
// 2-D (a weight) or 1-D (its bias) with n_heads * head_dim rows. Throws FormatError naming `source` and the tensor otherwise.
HostTensor interleaved_to_rotate_half(const HostTensor& t, std::int64_t n_heads, std::int64_t head_dim,
                                      const std::filesystem::path& source);

}  // namespace scalebits::io
