#include "core/analysis/export_size.h"

#include <nlohmann/json.hpp>
#include <scalebits/kernels.h>

#include <string>

#include "core/io/packed_export.h"

namespace scalebits::exporting {

namespace {
// A non-negative number with as many digits as `at_most` has: the widest value it can take.
std::int64_t widest(std::int64_t at_most) {
    std::int64_t v = 9;
    while (v < at_most) v = v * 10 + 9;
    return v;
}
}  // namespace

std::int64_t export_overhead_bytes(const analysis::Analysis& a, bool vocab_packed) {
    const auto& c = a.config;
    struct Entry {
        std::string name, dtype;
        std::vector<std::int64_t> shape;
    };
    std::vector<Entry> entries;
    std::int64_t unquantized = 0, max_file = 0;
    for (const auto& m : a.matrices) {
        if (analysis::is_vocab_kind(m.kind) && !vocab_packed) continue;
        const kernels::TileGrid& g = m.grid;
        // The widest tile a matrix can have: 8 bits, or kept at fp16 for a vocabulary matrix.
        const std::vector<std::uint8_t> eight(g.tile_count(), analysis::is_vocab_kind(m.kind) ? kernels::kDenseBits : 8);
        const auto max_bytes = static_cast<std::int64_t>(kernels::packed_data_bytes(g, eight.data()));
        max_file += max_bytes + 9 * m.tile_count();
        const std::string base = io::packed_base_name(m.name);
        entries.push_back({base + ".qdata", "U8", {widest(max_bytes)}});
        entries.push_back({base + ".qoffsets", "I64", {m.grid_rows(), m.grid_cols()}});
        entries.push_back({base + ".qwidths", "U8", {m.grid_rows(), m.grid_cols()}});
    }
    for (const auto& t : io::unquantized_tensors(c, vocab_packed)) {
        entries.push_back({t.name(), t.dtype, t.shape()});
        unquantized += t.bytes();
    }
    max_file += unquantized;

    // The export metadata exactly as export writes it, with checksums of the fixed hex length.
    nlohmann::json matrices = nlohmann::json::object(), checksums = nlohmann::json::object();
    for (const auto& m : a.matrices)
        if (!analysis::is_vocab_kind(m.kind) || vocab_packed) matrices[m.name] = {m.rows(), m.cols()};
    for (const auto& e : entries) checksums[e.name] = std::string(16, '0');
    const nlohmann::json meta =
        io::export_metadata(a.options.tile_rows, a.options.tile_cols, a.options.group, matrices, checksums);
    nlohmann::ordered_json h = nlohmann::ordered_json::object();
    h["__metadata__"] = {{io::kExportMetadataKey, meta.dump()}};
    const std::int64_t offset = widest(max_file);
    for (const auto& e : entries) h[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {offset, offset}}};
    std::int64_t header = static_cast<std::int64_t>(h.dump().size());
    header += (16 - (8 + header) % 16) % 16;
    return unquantized + 8 + header;
}

}  // namespace scalebits::exporting
