// Private: the bit layout inside a packed tile, shared by the packer, the reference unpack, the CPU
// kernels and (through SB_HD) the CUDA kernels. One table describes every width.
//
// Tile of r rows, c cols, width b, group g. Sections (each a multiple of 16 bytes):
//   payload | scales (fp16, [group][row]) | zeros (b-bit LSB-first bitstream, index group*r + row)
// Payload: nc = c / 128 full chunks per row, then tail = c % 128 columns.
//   Chunk part: vector (j, v, row) is 16 bytes at ((j * b + v) * r + row) * 16, v in 0..b-1.
//   A 16-byte vector is 8 "lanes" of 16 bits (lane L = bits 16L..16L+15 of the little-endian
//   vector, i.e. word L/2, half L%2). Column cc of the chunk (0..127) is slot s = cc / 8, lane
//   L = cc % 8. The code's bits are split into parts (kWidthTable): part p-bit wide holding code
//   bits [o, o+p) lives in vectors first_vector .. first_vector + p - 1; within the part, slot s is
//   in vector s * p / 16 at bit position p * (s % (16 / p)) of lane L.
//   Why: lanes pair up as (2w, 2w+1) = the two halves of one 32-bit word = adjacent columns
//   (8s + 2w, 8s + 2w + 1), so a GPU thread turns a word into a half2 of codes with one shift and
//   one mask, and the magic-number trick (0x6400 | q) - 1024 gives fp16 without conversions. On the
//   CPU the same 8 lanes are 8 consecutive columns, and AVX2 shifts 16 codes at a time.
//   Tail: code (row, t) for t in 0..tail-1 is bits [(row * tail + t) * b, +b) of an LSB-first
//   bitstream starting right after the chunks (at r * nc * b * 16).
#pragma once

#include <cstddef>
#include <cstdint>

#ifdef __CUDACC__
#define SB_HD __host__ __device__ __forceinline__
#else
#define SB_HD inline
#endif

namespace scalebits::kernels::fmt {

struct Part {
    int bits;          // p: 1, 2 or 4
    int shift;         // o: the code bits this part holds start here
    int first_vector;  // index of its first 16-byte vector inside a chunk
};

struct WidthLayout {
    int bits;
    int part_count;
    Part parts[3];
};

// One table for every width: how a b-bit code splits into power-of-two planes.
inline constexpr WidthLayout kWidthTable[9] = {
    {0, 0, {}},
    {1, 0, {}},
    {2, 1, {{2, 0, 0}}},
    {3, 2, {{2, 0, 0}, {1, 2, 2}}},
    {4, 1, {{4, 0, 0}}},
    {5, 2, {{4, 0, 0}, {1, 4, 4}}},
    {6, 2, {{4, 0, 0}, {2, 4, 4}}},
    {7, 3, {{4, 0, 0}, {2, 4, 4}, {1, 6, 6}}},
    {8, 2, {{4, 0, 0}, {4, 4, 4}}},
};

constexpr bool table_is_consistent() {
    for (int b = 2; b <= 8; ++b) {
        const WidthLayout& w = kWidthTable[b];
        int bits = 0, vectors = 0;
        for (int i = 0; i < w.part_count; ++i) {
            if (w.parts[i].shift != bits || w.parts[i].first_vector != vectors) return false;
            bits += w.parts[i].bits;
            vectors += w.parts[i].bits;  // a p-bit plane of 128 codes is p vectors
        }
        if (w.bits != b || bits != b) return false;
    }
    return true;
}
static_assert(table_is_consistent(), "every width's parts must tile its bits and its b vectors");

struct TileGeom {
    std::size_t r, c, g;
    int b;
    std::size_t nc() const { return c / 128; }
    std::size_t tail() const { return c % 128; }
    std::size_t groups_per_row() const { return (c + g - 1) / g; }
    std::size_t ng() const { return r * groups_per_row(); }
    std::size_t payload_bytes() const { return (r * c * static_cast<std::size_t>(b) + 7) / 8; }
    std::size_t tail_start() const { return r * nc() * static_cast<std::size_t>(b) * 16; }
};

// Byte offset of vector (chunk j, vector v, row) inside the payload.
SB_HD std::size_t vector_offset(std::size_t r, int b, std::size_t j, int v, std::size_t row) {
    return ((j * static_cast<std::size_t>(b) + static_cast<std::size_t>(v)) * r + row) * 16;
}

// Where the bits of one part of the code at chunk column cc live: byte offset of the 16-bit lane
// within the chunk's vectors (relative to vector 0 of that row, in units of vectors) and bit shift.
struct PartLoc {
    int vector;  // vector index within the chunk (0..b-1)
    int lane;    // 0..7
    int bit;     // bit position inside the 16-bit lane
};

SB_HD PartLoc part_location(const Part& p, int cc) {
    const int s = cc / 8;
    const int per_lane = 16 / p.bits;  // slots per lane of one vector
    return PartLoc{p.first_vector + s / per_lane, cc % 8, p.bits * (s % per_lane)};
}

// Read/write `bits` bits at bit position `pos` of an LSB-first bitstream.
// Fields are <= 8 bits, so they span at most two bytes; the second byte is read only when the
// field reaches into it (it may be past the end of the section otherwise).
SB_HD unsigned read_bits(const std::uint8_t* s, std::size_t pos, int bits) {
    const std::size_t byte = pos >> 3;
    const unsigned sh = static_cast<unsigned>(pos & 7);
    unsigned v = static_cast<unsigned>(s[byte]) >> sh;
    if (sh + static_cast<unsigned>(bits) > 8) v |= static_cast<unsigned>(s[byte + 1]) << (8 - sh);
    return v & ((1u << bits) - 1u);
}
// Callers write each field once into zeroed memory. Fields of <= 8 bits span at most two bytes.
static inline void write_bits(std::uint8_t* s, std::size_t pos, int bits, unsigned value) {
    const unsigned shifted = (value & ((1u << bits) - 1u)) << (pos & 7);
    s[pos >> 3] = static_cast<std::uint8_t>(s[pos >> 3] | (shifted & 0xffu));
    if ((pos & 7) + static_cast<std::size_t>(bits) > 8) s[(pos >> 3) + 1] = static_cast<std::uint8_t>(s[(pos >> 3) + 1] | (shifted >> 8));
}

// The code at (row, col) of one tile (reference unpack).
static inline unsigned tile_code(const TileGeom& t, const std::uint8_t* tile, std::size_t row, std::size_t col) {
    const std::size_t j = col / 128;
    if (j < t.nc()) {
        const int cc = static_cast<int>(col % 128);
        const WidthLayout& w = kWidthTable[t.b];
        unsigned q = 0;
        for (int i = 0; i < w.part_count; ++i) {
            const PartLoc l = part_location(w.parts[i], cc);
            const std::uint8_t* lane = tile + vector_offset(t.r, t.b, j, l.vector, row) + 2 * l.lane;
            const unsigned v16 = static_cast<unsigned>(lane[0]) | (static_cast<unsigned>(lane[1]) << 8);
            q |= ((v16 >> l.bit) & ((1u << w.parts[i].bits) - 1u)) << w.parts[i].shift;
        }
        return q;
    }
    const std::size_t tail = t.tail();
    const std::size_t idx = row * tail + (col - t.nc() * 128);
    return read_bits(tile + t.tail_start(), idx * static_cast<std::size_t>(t.b), t.b);
}

}  // namespace scalebits::kernels::fmt
