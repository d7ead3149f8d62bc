#pragma once
// Reference dequantization of the ggml storage types a GGUF checkpoint may hold. Block layouts
// (all little-endian, fp16 scales):
//   Q4_0  d, 16 bytes of nibbles        w = (q - 8) * d        low nibbles: weights 0..15, high: 16..31
//   Q4_1  d, m, 16 bytes of nibbles     w = q * d + m
//   Q5_0  d, 32 high bits, 16 bytes     w = (q - 16) * d       (q = nibble | high bit << 4)
//   Q5_1  d, m, 32 high bits, 16 bytes  w = q * d + m
//   Q8_0  d, 32 int8                    w = q * d
//   Q2_K..Q6_K: 256-weight super-blocks with packed sub-block scales (see ggml_dequant.cpp).
#include <cstdint>
#include <cstring>

#include "core/io/host_tensor.h"

namespace scalebits::io::ggml {

inline constexpr std::int64_t kQ4_0Bytes = 2 + 16;
inline constexpr std::int64_t kQ4_1Bytes = 2 + 2 + 16;
inline constexpr std::int64_t kQ5_0Bytes = 2 + 4 + 16;
inline constexpr std::int64_t kQ5_1Bytes = 2 + 2 + 4 + 16;
inline constexpr std::int64_t kQ8_0Bytes = 2 + 32;
inline constexpr std::int64_t kQ2_KBytes = 16 + 64 + 2 + 2;
inline constexpr std::int64_t kQ3_KBytes = 32 + 64 + 12 + 2;
inline constexpr std::int64_t kQ4_KBytes = 2 + 2 + 12 + 128;
inline constexpr std::int64_t kQ5_KBytes = 2 + 2 + 12 + 32 + 128;
inline constexpr std::int64_t kQ6_KBytes = 128 + 64 + 16 + 2;
// The sizes ggml publishes for these blocks; a typo above would silently misread every file.
static_assert(kQ4_0Bytes == 18 && kQ4_1Bytes == 20 && kQ5_0Bytes == 22 && kQ5_1Bytes == 24 && kQ8_0Bytes == 34);
static_assert(kQ2_KBytes == 84 && kQ3_KBytes == 110 && kQ4_KBytes == 144 && kQ5_KBytes == 176 && kQ6_KBytes == 210);

inline std::uint16_t load_u16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

// IEEE half to float through a 64K-entry table built once (exact, including subnormals, inf, NaN).
float fp16_to_fp32(std::uint16_t h);
std::uint16_t fp32_to_fp16(float f);  // round to nearest even; for tests and writers

inline float bf16_to_fp32(std::uint16_t h) {
    const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// Dequantizes n weights (a whole number of blocks) of a ggml block type from src into dst.
// Returns false for a type it does not handle (plain types included).
bool dequantize(DType t, const std::uint8_t* src, float* dst, std::int64_t n);

}  // namespace scalebits::io::ggml
