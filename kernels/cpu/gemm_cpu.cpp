// The optimized CPU GEMM driver: prepares activations once per call (permuted chunks and group
// sums), splits tile rows over threads, and per tile runs the widest chunk kernel the CPU has.
// The zero-point term is separate: sum_k s (q - z) x = s * sum_k q x - s * z * sum_k x, with sum_k x
// precomputed per group. Tail columns (tiles not a multiple of 128 wide) and fp16 tiles run in
// tail_avx2.cpp, or here in scalar code on machines without AVX2.
#include "cpu_features.h"
#include "cpu_gemm.h"
#include "thread_pool.h"

#include "scalebits/kernels.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <string>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

namespace scalebits::kernels {

namespace {

using cpu::cpu_path_cap;

// The chunk kernels, narrowest first. SCALEBITS_CPU_PATH names the widest one a call may take
// (tests run each kernel on a wider CPU): generic, avx2 (the int16 AVX2 kernel), avx2-bytes,
// avx512 (the int16 kernel on AVX-512VL), avx512vnni (the VNNI byte kernel without the VBMI tails
// and zero points); unset or anything else, no cap.
enum class Path { generic, avx2, avx2_bytes, avx512vl, avx512vnni, avx512vbmi };

Path path_cap() {
    static const Path p = [] {
        const std::string& cap = cpu_path_cap();
        return cap == "generic"      ? Path::generic
               : cap == "avx2"       ? Path::avx2
               : cap == "avx2-bytes" ? Path::avx2_bytes
               : cap == "avx512"     ? Path::avx512vl
               : cap == "avx512vnni" ? Path::avx512vnni
                                     : Path::avx512vbmi;
    }();
    return p;
}

bool have_avx2() {
#if defined(SCALEBITS_HAVE_AVX2_KERNEL)
    static const bool ok = path_cap() >= Path::avx2 && cpu::cpu_has_avx2_fma();
    return ok;
#else
    return false;
#endif
}

// The AVX2 byte kernel also converts its scales with F16C.
bool have_avx2_bytes() {
    static const bool ok = have_avx2() && path_cap() >= Path::avx2_bytes && cpu::cpu_has_f16c();
    return ok;
}

// The tail and fp16-tile paths (tail_avx2.cpp) also convert halves with F16C.
bool have_avx2_f16c() {
#if defined(SCALEBITS_HAVE_AVX2_KERNEL)
    static const bool ok = have_avx2() && cpu::cpu_has_f16c();
    return ok;
#else
    return false;
#endif
}

struct Prepared {
    std::vector<float> xp;    // batch * K, permuted inside full chunks: the generic chunk kernel's only
    std::vector<std::int16_t> xq;  // int16 kernels and int16 tails: batch * K, rounded per chunk and per tail
    std::vector<std::int8_t> x8;   // byte kernels: batch * 2K bytes (see TileArgs::x8)
    std::vector<float> xscale, x8scale;  // batch * xscale_stride each, for xq and x8
    std::size_t xscale_stride = 0;
    std::vector<float> tail_xscale;  // batch * tiles_c: the scale of each column tile's int16 tail
    std::vector<float> tail_x8scale;  // batch * tiles_c: the same for byte tails (tail_vbmi)
    std::vector<float> xsum;  // batch * groups_per_row
};

// The sum of n floats over 8 interleaved partial sums: one running sum is a chain of dependent
// additions, about 5 us at K = 4096 (and a division per column to find its group cost 3x that).
float sum_of(const float* x, std::size_t n) {
    float part[8] = {};
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) part[l] += x[i + l];
    float s = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
    for (; i < n; ++i) s += x[i];
    return s;
}

// Which activation forms a call's kernels read.
struct Forms {
    bool permuted = false;  // chunks_generic
    bool int16 = false;     // chunks_avx2, chunks_avx512vl (and 8-bit tiles under chunks_avx2_bytes)
    bool bytes = false;     // chunks_vnni, chunks_avx2_bytes
    bool tail_int16 = false;  // the AVX2 tail path, for tails that int16_tail_fits
    bool tail_bytes = false;  // tail_vbmi, for tails that byte_tail_fits (they take no int16 form)
};

// Built per call, so only the forms the kernels that run will read, and the group sums for all.
// (8 x 4096 at 2 bits, batch 1, one thread: 37 us a call when every form was built in scalar code,
// 4.6 us now, of which ~1.5 us is the kernel's own work.)
Prepared prepare(const TileGrid& grid, const float* x, int batch, Forms forms) {
    const std::size_t K = grid.cols, gpr = grid.groups_per_row();
    Prepared p;
    p.xscale_stride = K / 128 + 1;
    const std::size_t nscales = static_cast<std::size_t>(batch) * p.xscale_stride;
    if (forms.permuted) p.xp.resize(static_cast<std::size_t>(batch) * K);
    if (forms.int16 || forms.tail_int16) p.xq.resize(static_cast<std::size_t>(batch) * K);
    if (forms.int16) p.xscale.resize(nscales);
    if (forms.tail_int16) p.tail_xscale.resize(static_cast<std::size_t>(batch) * grid.tiles_c());
    if (forms.tail_bytes) p.tail_x8scale.resize(static_cast<std::size_t>(batch) * grid.tiles_c());
    if (forms.bytes) {
        p.x8.resize(static_cast<std::size_t>(batch) * 2 * K);
        p.x8scale.resize(nscales);
    }
    p.xsum.resize(static_cast<std::size_t>(batch) * gpr);
    for (int b = 0; b < batch; ++b) {
        const float* xb = x + static_cast<std::size_t>(b) * K;
        const std::size_t sb = static_cast<std::size_t>(b) * p.xscale_stride;
        for (std::size_t tj = 0; tj < grid.tiles_c(); ++tj) {
            const std::size_t k0 = tj * grid.tile_cols, nc = grid.tile_width(tj) / 128;
            for (std::size_t j = 0; j < nc; ++j) {
                const std::size_t c0 = k0 + 128 * j;
                if (forms.permuted) {
                    float* out = p.xp.data() + static_cast<std::size_t>(b) * K + c0;
                    for (int cc = 0; cc < 128; ++cc) out[cpu::permuted_position(cc)] = xb[c0 + static_cast<std::size_t>(cc)];
                }
#if defined(SCALEBITS_HAVE_AVX2_KERNEL)
                if (forms.int16)
                    cpu::int16_chunk_activations(xb + c0, &p.xscale[sb + c0 / 128], p.xq.data() + static_cast<std::size_t>(b) * K + c0);
                if (forms.bytes)
                    cpu::byte_chunk_activations(xb + c0, &p.x8scale[sb + c0 / 128], p.x8.data() + static_cast<std::size_t>(b) * 2 * K + 2 * c0);
#endif
            }
#if defined(SCALEBITS_HAVE_AVX2_KERNEL)
            const std::size_t tail = grid.tile_width(tj) % 128, c0 = k0 + 128 * nc;
            if (forms.tail_bytes && cpu::byte_tail_fits(grid.tile_width(tj), grid.group))
                cpu::byte_tail_activations(xb + c0, tail, &p.tail_x8scale[static_cast<std::size_t>(b) * grid.tiles_c() + tj],
                                           p.x8.data() + static_cast<std::size_t>(b) * 2 * K + 2 * c0);
            else if (forms.tail_int16 && cpu::int16_tail_fits(tail, grid.group))
                cpu::int16_tail_activations(xb + c0, tail, &p.tail_xscale[static_cast<std::size_t>(b) * grid.tiles_c() + tj],
                                            p.xq.data() + static_cast<std::size_t>(b) * K + c0);
#endif
        }
        for (std::size_t gi = 0; gi < gpr; ++gi) {
            const std::size_t k0 = gi * grid.group;
            p.xsum[static_cast<std::size_t>(b) * gpr + gi] = sum_of(xb + k0, std::min(grid.group, K - k0));
        }
    }
    return p;
}

// A tile of width kDenseBits: fp16 weights, row-major; sums go to lane 0 of the accumulators.
void dense_tile_terms(const cpu::TileArgs& a, const float* x_nat, std::size_t K) {
    const fmt::TileGeom& g = a.geom;
    std::vector<float> w(g.c);
    for (std::size_t row = 0; row < g.r; ++row) {
        for (std::size_t col = 0; col < g.c; ++col) {
            std::uint16_t h;
            std::memcpy(&h, a.tile + 2 * (row * g.c + col), 2);
            w[col] = half_to_float(h);
        }
        float* acc = a.acc + row * static_cast<std::size_t>(a.batch) * cpu::kAccLanes;
        for (int b = 0; b < a.batch; ++b) {
            const float* xb = x_nat + static_cast<std::size_t>(b) * K;
            float dot = 0.0f;
            for (std::size_t col = 0; col < g.c; ++col) dot += w[col] * xb[col];
            acc[b * cpu::kAccLanes] += dot;
        }
    }
}

// Tail columns of one tile (tiles not a multiple of 128 wide), in natural column order. One scale
// per group (converted once, not per weight) times the group's integer-code dot product; the codes
// are one LSB-first bitstream per row. SmolLM2's K = 576 = 4 x 128 + 64 puts a ninth of its weights
// here on machines without AVX2 and F16C (tail_avx2.cpp takes them otherwise).
void tail_terms(const cpu::TileArgs& a, const float* x_nat, std::size_t K) {
    const fmt::TileGeom& g = a.geom;
    const std::size_t nc = g.nc(), tail = g.tail();
    if (tail == 0) return;
    const std::uint8_t* scales = a.tile + packed_tile_sections(g.r, g.c, g.g, g.b).payload;
    const std::uint8_t* codes = a.tile + g.tail_start();
    const std::size_t ub = static_cast<std::size_t>(g.b), c0 = nc * 128;
    const std::uint64_t mask = (std::uint64_t{1} << ub) - 1;
    for (std::size_t row = 0; row < g.r; ++row) {
        float* acc = a.acc + row * static_cast<std::size_t>(a.batch) * cpu::kAccLanes;
        std::size_t pos = row * tail * ub;
        for (std::size_t col0 = c0; col0 < g.c;) {
            const std::size_t gi = col0 / g.g, col1 = std::min(g.c, (gi + 1) * g.g);
            std::uint16_t h;
            std::memcpy(&h, scales + 2 * (gi * g.r + row), 2);
            const float s = half_to_float(h);
            for (int b = 0; b < a.batch; ++b) {
                const float* xb = x_nat + static_cast<std::size_t>(b) * K;
                float dot = 0.0f;
                std::size_t p = pos, col = col0;
                // A 64-bit window holds at least 56 / b whole codes. The 8-byte load may reach past
                // the payload into the tile's scale section (16 bytes or more), never past the tile.
                while (col < col1) {
                    std::uint64_t w;
                    std::memcpy(&w, codes + (p >> 3), 8);
                    w >>= (p & 7);
                    const std::size_t n = std::min<std::size_t>((64 - (p & 7)) / ub, col1 - col);
                    for (std::size_t i = 0; i < n; ++i, ++col, w >>= ub)
                        dot += static_cast<float>(w & mask) * xb[col];
                    p += n * ub;
                }
                acc[b * cpu::kAccLanes] += s * dot;
            }
            pos += (col1 - col0) * ub;
            col0 = col1;
        }
    }
}

}  // namespace

namespace cpu {

void zero_terms_generic(const TileArgs& a) {
    const fmt::TileGeom& g = a.geom;
    const TileSections sec = packed_tile_sections(g.r, g.c, g.g, g.b);
    const std::uint8_t* scales = a.tile + sec.payload;
    const std::uint8_t* zeros = scales + sec.scales;
    for (std::size_t gi = 0; gi < g.groups_per_row(); ++gi)
        for (std::size_t row = 0; row < g.r; ++row) {
            std::uint16_t h;
            std::memcpy(&h, scales + 2 * (gi * g.r + row), 2);
            const float sz = half_to_float(h) *
                             static_cast<float>(fmt::read_bits(zeros, (gi * g.r + row) * static_cast<std::size_t>(g.b), g.b));
            for (int b = 0; b < a.batch; ++b)
                a.zacc[static_cast<std::size_t>(b) * g.r + row] += sz * a.xsum[static_cast<std::size_t>(b) * a.xsum_stride + gi];
        }
}

void tile_row_outputs(float* acc, float* zacc, std::size_t row0, std::size_t r, int batch, float* y, std::size_t N) {
    for (std::size_t row = row0; row < r; ++row)
        for (int b = 0; b < batch; ++b) {
            float* lanes = acc + (row * static_cast<std::size_t>(batch) + static_cast<std::size_t>(b)) * kAccLanes;
            float sum = 0.0f;
            for (int l = 0; l < kAccLanes; ++l) {
                sum += lanes[l];
                lanes[l] = 0.0f;
            }
            float& z = zacc[static_cast<std::size_t>(b) * r + row];
            y[static_cast<std::size_t>(b) * N + row] = sum - z;
            z = 0.0f;
        }
}

void chunks_generic(const TileArgs& a) {
    const fmt::TileGeom& g = a.geom;
    const TileSections sec = packed_tile_sections(g.r, g.c, g.g, g.b);
    const std::uint8_t* scales = a.tile + sec.payload;
    for (std::size_t row = 0; row < g.r; ++row) {
        float* acc = a.acc + row * static_cast<std::size_t>(a.batch) * kAccLanes;
        for (std::size_t col0 = 0; col0 < g.nc() * 128; col0 += g.g) {
            const std::size_t gi = col0 / g.g, col1 = std::min(col0 + g.g, g.nc() * 128);
            std::uint16_t h;
            std::memcpy(&h, scales + 2 * (gi * g.r + row), 2);
            const float s = half_to_float(h);
            for (int b = 0; b < a.batch; ++b) {
                const float* xb = a.x + static_cast<std::size_t>(b) * a.x_stride;
                float dot = 0.0f;
                for (std::size_t col = col0; col < col1; ++col) {
                    const std::size_t j = col / 128;
                    const float q = static_cast<float>(fmt::tile_code(g, a.tile, row, col));
                    dot += q * xb[128 * j + static_cast<std::size_t>(permuted_position(static_cast<int>(col % 128)))];
                }
                acc[b * kAccLanes] += s * dot;
            }
        }
    }
}

}  // namespace cpu

// Whether this build and this CPU have the AVX-512 kernels, whatever the cap.
static bool avx512_here() {
#if defined(SCALEBITS_HAVE_AVX512_KERNEL)
    return cpu::cpu_has_avx2_fma() && cpu::cpu_has_avx512_vnni_set();
#else
    return false;
#endif
}

static bool have_avx512vl() {
    static const bool ok = have_avx2() && path_cap() >= Path::avx512vl && avx512_here();
    return ok;
}

static bool have_avx512vnni() {
    static const bool ok = have_avx512vl() && path_cap() >= Path::avx512vnni;
    return ok;
}

static bool vbmi_here() {
#if defined(SCALEBITS_HAVE_AVX512_KERNEL)
    return cpu::cpu_has_avx512_vbmi();
#else
    return false;
#endif
}

// F16C too: the byte tails are prepared on the AVX2 + F16C tail path's side of the driver.
static bool have_avx512vbmi() {
    static const bool ok = have_avx512vnni() && have_avx2_f16c() && path_cap() >= Path::avx512vbmi && vbmi_here();
    return ok;
}

std::string cpu_path() {
    if (have_avx512vbmi()) return "avx512vbmi-bytes";
    if (have_avx512vnni()) return "avx512vnni-bytes";
    if (have_avx512vl()) return "avx512vl+vnni";
    if (have_avx2_bytes()) return "avx2-bytes";
    return have_avx2() ? "avx2+fma" : "generic";
}

// A cap naming a path this CPU lacks makes the dispatch take a narrower one; avx2-bytes is also
// what an AVX2 machine takes without a cap. Either way a test under that cap repeats another one.
bool cpu_path_cap_unavailable() {
    switch (path_cap()) {
        case Path::avx512vnni: return !have_avx512vnni() || !vbmi_here();
        case Path::avx512vl: return !have_avx512vl();
        case Path::avx2_bytes: return !have_avx2_bytes() || !avx512_here();
        case Path::avx2: return !have_avx2();
        default: return false;
    }
}

void gemm_cpu(const PackedMatrixView& v, const float* x, int batch, float* y, int threads) {
    const PackedMatrixView* views[] = {&v};
    float* ys[] = {y};
    gemm_cpu_many(views, 1, x, batch, ys, threads);
}

// Tile bytes (times the batch) below which a product runs on fewer threads: the pool's workers spin a
// while after each call, so a part is worth a thread from about 32 KiB. Measured on a decode of SmolLM2's
// exports (2 cores; 3.0 bpw): 128 KiB 67 tokens/s, 64 KiB 83, 32 KiB 89, 16 KiB 88.
constexpr std::size_t kPartBytes = 32 * 1024;

void gemm_cpu_many(const PackedMatrixView* const* views, int count, const float* x, int batch, float* const* ys,
                   int threads) {
    if (batch < 1) throw std::invalid_argument("gemm_cpu: batch must be >= 1");
    if (count < 1) throw std::invalid_argument("gemm_cpu_many: needs at least one matrix");
    const TileGrid& grid = views[0]->grid;
    std::size_t data_bytes = 0, rows_total = 0;
    std::vector<std::size_t> first_row(static_cast<std::size_t>(count) + 1, 0);  // work items: (matrix, tile row)
    for (int m = 0; m < count; ++m) {
        const PackedMatrixView& v = *views[m];
        validate(v);
        if (!same_columns(v.grid, grid))
            throw std::invalid_argument("gemm_cpu_many: the matrices must share columns, tile width and group");
        data_bytes += v.data_bytes;
        rows_total += v.grid.tiles_r();
        first_row[static_cast<std::size_t>(m) + 1] = rows_total;
    }
    // The AVX2 kernel flushes both 64-column halves of a chunk at the same steps, which needs group
    // boundaries to fall on multiples of 64 columns or groups to span whole chunks; the byte kernels
    // need groups of exactly one half or whole chunks.
    const bool avx2 = have_avx2() && grid.group % 8 == 0 && (64 % grid.group == 0 || grid.group % 128 == 0);
    const bool byte_groups = grid.group == 64 || grid.group % 128 == 0;
    const bool vnni = have_avx512vnni() && byte_groups;
    // Byte tails and zero points where the CPU has VBMI too (tail_vbmi.cpp).
    const bool vbmi = vnni && have_avx512vbmi();
    // At batch 1 (cpu_gemm.h says why). On an AVX-512 machine only under the avx2-bytes cap: else it
    // takes the VNNI kernel or, capped at avx512, the int16 kernel on AVX-512VL.
    const bool avx2_bytes = !vnni && !have_avx512vl() && have_avx2_bytes() && byte_groups && batch == 1;
    Forms forms;
    forms.permuted = !avx2;
    if (avx2_bytes) {
        // Tiles too wide for the byte kernel go to the int16 one: each form only if some tile reads it.
        for (int m = 0; m < count; ++m) {
            const PackedMatrixView& v = *views[m];
            for (std::size_t t = 0; t < v.grid.tile_count(); ++t) {
                if (v.widths[t] == kDenseBits) continue;
                if (v.widths[t] <= cpu::kAvx2BytesMaxWidth)
                    forms.bytes = true;
                else
                    forms.int16 = true;
            }
        }
    } else {
        forms.bytes = vnni;
        forms.int16 = avx2 && !vnni;
    }
    // The tail columns and fp16 tiles: AVX2 + F16C where the CPU has them, else the scalar code.
    using ColumnTerms = void (*)(const cpu::TileArgs&, const float*, std::size_t);
    ColumnTerms tail = tail_terms, dense_terms = dense_tile_terms;
#if defined(SCALEBITS_HAVE_AVX2_KERNEL)
    if (have_avx2_f16c()) {
        tail = cpu::tail_terms_avx2;
        dense_terms = cpu::dense_tile_terms_avx2;
        for (std::size_t tj = 0; tj < grid.tiles_c(); ++tj) {
            if (vbmi && cpu::byte_tail_fits(grid.tile_width(tj), grid.group))
                forms.tail_bytes = true;
            else
                forms.tail_int16 = forms.tail_int16 || cpu::int16_tail_fits(grid.tile_width(tj) % 128, grid.group);
        }
    }
#endif
    const Prepared prep = prepare(grid, x, batch, forms);
    cpu::ThreadPool& pool = cpu::ThreadPool::shared();
    const int nthreads = threads <= 0 ? pool.size() : std::min(threads, pool.size());
    // Each thread owns whole tile rows (whole outputs), so no reduction. Small products (under
    // kPartBytes of tiles a part) run on fewer threads, a tiny one on the caller alone.
    const std::size_t by_size = std::max<std::size_t>(1, data_bytes * static_cast<std::size_t>(batch) / kPartBytes);
    const int parts = static_cast<int>(std::min({rows_total, static_cast<std::size_t>(nthreads), by_size}));
    const std::size_t gpr = grid.groups_per_row(), K = grid.cols;
    auto matrix_of = [&](std::size_t item) {
        return static_cast<std::size_t>(std::upper_bound(first_row.begin(), first_row.end(), item) - first_row.begin()) - 1;
    };
    // Tile rows (of all the matrices, one list) are handed out one at a time from one range per part,
    // the ranges cut at equal shares of the bytes: a part takes its own rows first (a counter no other
    // thread touches then: one shared counter cost a cache-line transfer per row, 2% of a decode),
    // then helps the others. On a shared or busy machine a thread that loses its core for a while
    // then does fewer rows instead of holding up the whole call. Each thread claims its next row
    // when it starts the last tile of the current one, so it can prefetch its first tile.
    struct alignas(64) Range {
        std::atomic<std::size_t> next{0};
        std::size_t end = 0;
    };
    std::unique_ptr<Range[]> ranges(new Range[static_cast<std::size_t>(parts)]);
    {
        auto row_bytes = [&](std::size_t item) {
            const std::size_t m = matrix_of(item), ti = item - first_row[m];
            const PackedMatrixView& v = *views[m];
            const std::size_t t0 = ti * v.grid.tiles_c(), t1 = t0 + v.grid.tiles_c();
            return (t1 < v.grid.tile_count() ? v.tile_offsets[t1] : v.data_bytes) - v.tile_offsets[t0];
        };
        std::size_t item = 0, seen = 0;
        for (int p = 0; p < parts; ++p) {
            ranges[static_cast<std::size_t>(p)].next.store(item, std::memory_order_relaxed);
            const std::size_t share = data_bytes * static_cast<std::size_t>(p + 1) / static_cast<std::size_t>(parts);
            for (; item < rows_total; ++item) {
                const std::size_t bytes = row_bytes(item);
                if (p + 1 < parts && seen + bytes / 2 >= share) break;
                seen += bytes;
            }
            ranges[static_cast<std::size_t>(p)].end = item;
        }
    }
    auto claim = [&](int part) {
        for (int k = 0; k < parts; ++k) {
            Range& rg = ranges[static_cast<std::size_t>((part + k) % parts)];
            if (rg.next.load(std::memory_order_relaxed) >= rg.end) continue;
            const std::size_t i = rg.next.fetch_add(1, std::memory_order_relaxed);
            if (i < rg.end) return i;
        }
        return rows_total;
    };
    pool.run(parts, [&](int part) {
        // Accumulators zero between tile rows: the outputs step clears what it reads (zeroing them
        // afresh for each tile row was 3% of a decode).
        std::vector<float> acc, zacc;
        std::size_t item = claim(part);
        while (item < rows_total) {
            const std::size_t m = matrix_of(item), ti = item - first_row[m];
            const PackedMatrixView& v = *views[m];
            const TileGrid& g = v.grid;
            const std::size_t r = g.tile_height(ti), N = g.rows;
            std::size_t item_next = rows_total;
            if (acc.size() < r * static_cast<std::size_t>(batch) * cpu::kAccLanes) {
                acc.resize(r * static_cast<std::size_t>(batch) * cpu::kAccLanes, 0.0f);
                zacc.resize(r * static_cast<std::size_t>(batch), 0.0f);
            }
            for (std::size_t tj = 0; tj < g.tiles_c(); ++tj) {
                const bool last = tj + 1 == g.tiles_c();
                if (last) item_next = claim(part);
                const std::size_t t = ti * g.tiles_c() + tj, k0 = tj * g.tile_cols;
                cpu::TileArgs a;
                a.tile = v.data + v.tile_offsets[t];
                a.geom = fmt::TileGeom{r, g.tile_width(tj), g.group, v.widths[t]};
                a.x = prep.xp.empty() ? nullptr : prep.xp.data() + k0;
                a.x_stride = K;
                a.xq = prep.xq.empty() ? nullptr : prep.xq.data() + k0;
                a.x8 = prep.x8.empty() ? nullptr : prep.x8.data() + 2 * k0;
                a.x8_stride = 2 * K;
                a.xscale = prep.xscale.empty() ? nullptr : prep.xscale.data();
                a.x8scale = prep.x8scale.empty() ? nullptr : prep.x8scale.data();
                a.xscale_stride = prep.xscale_stride;
                a.tail_xscale = prep.tail_xscale.empty() ? nullptr : prep.tail_xscale.data() + tj;
                a.tail_xscale_stride = g.tiles_c();
                a.tail_x8scale = prep.tail_x8scale.empty() ? nullptr : prep.tail_x8scale.data() + tj;
                a.col0 = k0;
                a.batch = batch;
                a.acc = acc.data();
                a.zacc = zacc.data();
                a.xsum = prep.xsum.data() + k0 / g.group;
                a.xsum_stride = gpr;
                if (!last) {
                    a.next_tile = v.data + v.tile_offsets[t + 1];
                    a.next_tile_bytes = packed_tile_bytes(r, g.tile_width(tj + 1), g.group, v.widths[t + 1]);
                } else if (item_next < rows_total) {
                    const std::size_t nm = matrix_of(item_next), nti = item_next - first_row[nm];
                    const PackedMatrixView& nv = *views[nm];
                    const std::size_t nt = nti * nv.grid.tiles_c();
                    a.next_tile = nv.data + nv.tile_offsets[nt];
                    a.next_tile_bytes = packed_tile_bytes(nv.grid.tile_height(nti), nv.grid.tile_width(0), nv.grid.group, nv.widths[nt]);
                }
                if (a.geom.b == kDenseBits) {
                    // A tile kept at fp16: a plain product on the natural-order activations.
                    dense_terms(a, x + k0, K);
                    continue;
                }
                if (a.geom.nc() > 0) {
#if defined(SCALEBITS_HAVE_AVX2_KERNEL)
                    if (vnni)
                        cpu::chunks_vnni(a);
                    else if (avx2 && have_avx512vl())
                        cpu::chunks_avx512vl(a);
                    else if (avx2_bytes)
                        cpu::chunks_avx2_bytes(a);
                    else if (avx2)
                        cpu::chunks_avx2(a);
                    else
#endif
                        cpu::chunks_generic(a);
                }
                // After the chunks, whose flushes already brought the scales into cache.
#if defined(SCALEBITS_HAVE_AVX2_KERNEL)
                if (vbmi) {
                    cpu::zero_terms_vbmi(a);
                    if (cpu::byte_tail_fits(a.geom.c, g.group))
                        cpu::tail_vbmi(a);
                    else
                        tail(a, x + k0, K);
                    continue;
                }
                if (have_avx2())
                    cpu::zero_terms_avx2(a);
                else
#endif
                    cpu::zero_terms_generic(a);
                tail(a, x + k0, K);
            }
            float* y = ys[m] + ti * g.tile_rows;
#if defined(SCALEBITS_HAVE_AVX2_KERNEL)
            if (have_avx2())
                cpu::tile_row_outputs_avx2(acc.data(), zacc.data(), r, batch, y, N);
            else
#endif
                cpu::tile_row_outputs(acc.data(), zacc.data(), 0, r, batch, y, N);
            item = item_next;
        }
    });
}

}  // namespace scalebits::kernels
