#include "core/io/ggml_dequant.h"

#include <cmath>
#include <vector>

namespace scalebits::io::ggml {

namespace {

float half_bits_to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exp = (h >> 10) & 0x1Fu;
    const std::uint32_t mant = h & 0x3FFu;
    float mag;
    if (exp == 0) {
        mag = std::ldexp(static_cast<float>(mant), -24);  // zero or subnormal
    } else if (exp == 31) {
        mag = mant ? NAN : INFINITY;
    } else {
        mag = std::ldexp(static_cast<float>(mant | 0x400u), static_cast<int>(exp) - 25);
    }
    std::uint32_t bits;
    std::memcpy(&bits, &mag, 4);
    bits |= sign;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

const std::vector<float>& half_table() {
    static const std::vector<float> table = [] {
        std::vector<float> t(65536);
        for (std::uint32_t i = 0; i < 65536; ++i) t[i] = half_bits_to_float(static_cast<std::uint16_t>(i));
        return t;
    }();
    return table;
}

// Each routine handles one block: src points at the block, dst at its first weight.

void block_q4_0(const std::uint8_t* b, float* y) {
    const float d = fp16_to_fp32(load_u16(b));
    const std::uint8_t* qs = b + 2;
    for (int j = 0; j < 16; ++j) {
        y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
        y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
}

void block_q4_1(const std::uint8_t* b, float* y) {
    const float d = fp16_to_fp32(load_u16(b));
    const float m = fp16_to_fp32(load_u16(b + 2));
    const std::uint8_t* qs = b + 4;
    for (int j = 0; j < 16; ++j) {
        y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
        y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
    }
}

std::uint32_t load_u32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

// Q5: bit j of qh is the fifth bit of weight j (0..31).
void block_q5(const std::uint8_t* qh_bytes, const std::uint8_t* qs, float d, float m, int offset, float* y) {
    const std::uint32_t qh = load_u32(qh_bytes);
    for (int j = 0; j < 16; ++j) {
        const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
        const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
        y[j] = static_cast<float>(lo - offset) * d + m;
        y[j + 16] = static_cast<float>(hi - offset) * d + m;
    }
}

void block_q5_0(const std::uint8_t* b, float* y) { block_q5(b + 2, b + 6, fp16_to_fp32(load_u16(b)), 0.0f, 16, y); }

void block_q5_1(const std::uint8_t* b, float* y) {
    block_q5(b + 4, b + 8, fp16_to_fp32(load_u16(b)), fp16_to_fp32(load_u16(b + 2)), 0, y);
}

void block_q8_0(const std::uint8_t* b, float* y) {
    const float d = fp16_to_fp32(load_u16(b));
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<std::int8_t>(b[2 + j])) * d;
}

// Q2_K: 16 sub-blocks of 16; scale byte = 4-bit scale | 4-bit min, weight = d*sc*q - dmin*m.
void block_q2_k(const std::uint8_t* b, float* y) {
    const std::uint8_t* scales = b;
    const std::uint8_t* q = b + 16;
    const float d = fp16_to_fp32(load_u16(b + 80));
    const float dmin = fp16_to_fp32(load_u16(b + 82));
    int is = 0;
    for (int n = 0; n < 256; n += 128) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int half = 0; half < 2; ++half) {
                const std::uint8_t sc = scales[is++];
                const float dl = d * static_cast<float>(sc & 0x0F);
                const float ml = dmin * static_cast<float>(sc >> 4);
                for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l + 16 * half] >> shift) & 3) - ml;
            }
        }
        q += 32;
    }
}

// Q3_K: 2 low bits in qs, the third bit in hmask (set means +0, clear means -4), 16 6-bit scales
// packed in 12 bytes, each biased by 32.
void block_q3_k(const std::uint8_t* b, float* y) {
    const std::uint8_t* hm = b;
    const std::uint8_t* q = b + 32;
    const std::uint8_t* sc = b + 96;
    const float d = fp16_to_fp32(load_u16(b + 108));
    int scales[16];
    for (int j = 0; j < 16; ++j) {
        const int low = j < 8 ? (sc[j] & 0x0F) : (sc[j - 8] >> 4);
        const int high = (sc[8 + (j % 4)] >> (2 * (j / 4))) & 3;
        scales[j] = (low | (high << 4)) - 32;
    }
    int is = 0;
    std::uint8_t mbit = 1;
    for (int n = 0; n < 256; n += 128) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int half = 0; half < 2; ++half) {
                const float dl = d * static_cast<float>(scales[is++]);
                for (int l = 0; l < 16; ++l) {
                    const int idx = l + 16 * half;
                    const int v = ((q[idx] >> shift) & 3) - ((hm[idx] & mbit) ? 0 : 4);
                    *y++ = dl * static_cast<float>(v);
                }
            }
            mbit = static_cast<std::uint8_t>(mbit << 1);
        }
        q += 32;
    }
}

// The 6-bit scale and min of sub-block j of Q4_K/Q5_K, packed in 12 bytes.
void scale_min_k4(int j, const std::uint8_t* q, float& sc, float& m) {
    if (j < 4) {
        sc = static_cast<float>(q[j] & 63);
        m = static_cast<float>(q[j + 4] & 63);
    } else {
        sc = static_cast<float>((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
        m = static_cast<float>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

void block_q4_k(const std::uint8_t* b, float* y) {
    const float d = fp16_to_fp32(load_u16(b));
    const float dmin = fp16_to_fp32(load_u16(b + 2));
    const std::uint8_t* scales = b + 4;
    const std::uint8_t* q = b + 16;
    for (int j = 0; j < 8; j += 2) {
        float s1, m1, s2, m2;
        scale_min_k4(j, scales, s1, m1);
        scale_min_k4(j + 1, scales, s2, m2);
        for (int l = 0; l < 32; ++l) *y++ = d * s1 * static_cast<float>(q[l] & 0x0F) - dmin * m1;
        for (int l = 0; l < 32; ++l) *y++ = d * s2 * static_cast<float>(q[l] >> 4) - dmin * m2;
        q += 32;
    }
}

void block_q5_k(const std::uint8_t* b, float* y) {
    const float d = fp16_to_fp32(load_u16(b));
    const float dmin = fp16_to_fp32(load_u16(b + 2));
    const std::uint8_t* scales = b + 4;
    const std::uint8_t* qh = b + 16;
    const std::uint8_t* q = b + 48;
    std::uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 8; j += 2) {
        float s1, m1, s2, m2;
        scale_min_k4(j, scales, s1, m1);
        scale_min_k4(j + 1, scales, s2, m2);
        for (int l = 0; l < 32; ++l)
            *y++ = d * s1 * static_cast<float>((q[l] & 0x0F) + ((qh[l] & u1) ? 16 : 0)) - dmin * m1;
        for (int l = 0; l < 32; ++l)
            *y++ = d * s2 * static_cast<float>((q[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - dmin * m2;
        q += 32;
        u1 = static_cast<std::uint8_t>(u1 << 2);
        u2 = static_cast<std::uint8_t>(u2 << 2);
    }
}

// Q6_K: 4 low bits in ql, 2 high bits in qh, 16 int8 scales, weights biased by 32.
void block_q6_k(const std::uint8_t* b, float* y) {
    const std::uint8_t* ql = b;
    const std::uint8_t* qh = b + 128;
    const std::int8_t* sc = reinterpret_cast<const std::int8_t*>(b + 192);
    const float d = fp16_to_fp32(load_u16(b + 208));
    for (int n = 0; n < 256; n += 128) {
        for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
            y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
            y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
            y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

}  // namespace

float fp16_to_fp32(std::uint16_t h) { return half_table()[h]; }

std::uint16_t fp32_to_fp16(float f) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
    const std::uint32_t abs = x & 0x7FFFFFFFu;
    if (abs >= 0x7F800000u) return static_cast<std::uint16_t>(sign | (abs > 0x7F800000u ? 0x7E00u : 0x7C00u));
    if (abs >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // rounds past 65504
    if (abs < 0x38800000u) {  // below the smallest normal half: subnormal or zero
        float a;
        std::memcpy(&a, &abs, 4);
        return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(std::nearbyint(a * 16777216.0f)));
    }
    // Normal: rebias the exponent and round the 13 dropped mantissa bits to nearest even.
    const std::uint32_t rebased = abs - 0x38000000u;
    const std::uint32_t rounded = rebased + 0x0FFFu + ((rebased >> 13) & 1u);
    return static_cast<std::uint16_t>(sign | (rounded >> 13));
}

bool dequantize(DType t, const std::uint8_t* src, float* dst, std::int64_t n) {
    void (*fn)(const std::uint8_t*, float*) = nullptr;
    switch (t) {
        case DType::Q4_0: fn = block_q4_0; break;
        case DType::Q4_1: fn = block_q4_1; break;
        case DType::Q5_0: fn = block_q5_0; break;
        case DType::Q5_1: fn = block_q5_1; break;
        case DType::Q8_0: fn = block_q8_0; break;
        case DType::Q2_K: fn = block_q2_k; break;
        case DType::Q3_K: fn = block_q3_k; break;
        case DType::Q4_K: fn = block_q4_k; break;
        case DType::Q5_K: fn = block_q5_k; break;
        case DType::Q6_K: fn = block_q6_k; break;
        default: return false;
    }
    const DTypeLayout l = dtype_layout(t);
    half_table();  // build before the hot loop
    const std::int64_t blocks = n / l.block_elems;
    for (std::int64_t i = 0; i < blocks; ++i) fn(src + i * l.block_bytes, dst + i * l.block_elems);
    return true;
}

}  // namespace scalebits::io::ggml
