#include "core/export/export.h"

#include <torch/torch.h>

#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include <scalebits/kernels.h>

#include "core/io/atomic_file.h"
#include "core/io/checksum.h"
#include "core/io/hf_config.h"
#include "core/io/packed_export.h"
#include "core/io/safetensors_writer.h"
#include "core/analysis/work_folder.h"
#include "core/export/export_parts.h"
#include "core/model/llama.h"
#include "core/reorder/reorder.h"
#include "core/util/error.h"

namespace scalebits::exporting {

namespace fs = std::filesystem;

namespace {

// A copy of `n` elements at `data` as a CPU tensor of `shape` and `type`.
torch::Tensor bytes_tensor(const void* data, const std::vector<std::int64_t>& shape, torch::ScalarType type) {
    torch::Tensor t = torch::empty(shape, type);
    if (t.nbytes()) std::memcpy(t.data_ptr(), data, t.nbytes());
    return t;
}

kernels::PackedMatrix pack(const analysis::MatrixAnalysis& m, const quant::QuantizedMatrix& q) {
    const kernels::TileGrid& grid = m.grid;
    const auto codes = q.codes.to(torch::kCPU).contiguous();
    const auto scales = q.scales.to(torch::kCPU, torch::kFloat32).contiguous();
    const auto zeros = q.zeros.to(torch::kCPU).contiguous();
    const auto w = q.widths.to(torch::kCPU, torch::kUInt8).contiguous();
    // Tiles kept at fp16 (vocabulary matrices) store the weights themselves.
    const auto kept = q.kept.defined() ? q.kept.to(torch::kCPU, torch::kFloat32).contiguous() : torch::Tensor();
    try {
        return kernels::pack_matrix(grid, w.data_ptr<std::uint8_t>(), codes.data_ptr<std::uint8_t>(),
                                    scales.data_ptr<float>(), zeros.data_ptr<std::uint8_t>(),
                                    kept.defined() ? kept.data_ptr<float>() : nullptr);
    } catch (const std::invalid_argument& e) {
        throw InputError(m.name + ": packing failed: " + e.what());
    }
}

}  // namespace

ExportResult export_model(const model::Checkpoint& ckpt, const analysis::Analysis& a,
                          const analysis::Allocation& alloc, analysis::Quantizer quantizer, const fs::path& out_dir,
                          const ExportInfo& info, const Progress& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    if (alloc.granularity != analysis::WidthGranularity::Tile)
        throw InputError("the per-group method is a quality reference the kernels cannot run; export a tile method");
    if (!ckpt.packed.empty()) throw InputError(ckpt.path, "is already a packed export; export from the original model");
    if (fs::exists(out_dir) && !fs::is_directory(out_dir))
        throw InputError(out_dir, "exists and is not a folder");
    const model::ModelConfig& cfg = ckpt.config;
    cfg.validate(ckpt.path.string());
    const analysis::MatrixQuantizer mq(a, alloc.widths, quantizer, alloc.reordered, analysis::WidthGranularity::Tile,
                                       &ckpt, torch::kCPU, progress);
    const reorder::Permutations none;
    const reorder::Permutations& perms = alloc.reordered ? a.permutations : none;

    // Layer by layer (DESIGN.md 6): one layer in fp32 at a time, its packed matrices and small tensors
    // into the scratch folder, then the file assembled from the mapped pieces.
    const detail::ScratchFolder scratch(out_dir);
    const int L = static_cast<int>(cfg.n_layers);
    const double units = L + 2;
    const auto unquantized = io::unquantized_tensors(cfg, mq.covers_vocab());
    detail::write_layer_pieces(
        ckpt, mq, perms, scratch,
        [](const analysis::MatrixAnalysis& m, quant::QuantizedMatrix&& q, detail::Piece& piece) {
            const kernels::PackedMatrix p = pack(m, q);
            const std::string base = io::packed_base_name(m.name);
            piece.emplace_back(base + ".qdata", bytes_tensor(p.data.data(), {static_cast<std::int64_t>(p.data.size())}, torch::kByte));
            piece.emplace_back(base + ".qoffsets", bytes_tensor(p.tile_offsets.data(), {m.grid_rows(), m.grid_cols()}, torch::kLong));
            piece.emplace_back(base + ".qwidths", bytes_tensor(p.widths.data(), {m.grid_rows(), m.grid_cols()}, torch::kByte));
        },
        torch::kFloat, units, progress);
    progress.checkpoint(L, units, "embedding and lm_head");
    // A vocabulary matrix in the allocation is packed a chunk of tile rows at a time: chunks are whole
    // tile rows, so their tiles and offsets simply follow each other.
    struct Packing {
        std::vector<std::uint8_t> data, widths;
        std::vector<std::uint64_t> offsets;
    };
    std::map<std::string, Packing> vocab;
    detail::Piece ends;
    detail::write_model_ends(
        ckpt, mq, perms, scratch.part(-1), torch::kFloat,
        [&](const analysis::MatrixAnalysis& m, const analysis::MatrixAnalysis& chunk, std::int64_t, quant::QuantizedMatrix&& q) {
            Packing& acc = vocab[m.name];
            const kernels::PackedMatrix p = pack(chunk, q);
            for (const std::uint64_t o : p.tile_offsets) acc.offsets.push_back(o + acc.data.size());
            acc.data.insert(acc.data.end(), p.data.begin(), p.data.end());
            acc.widths.insert(acc.widths.end(), p.widths.begin(), p.widths.end());
            if (static_cast<std::int64_t>(acc.widths.size()) == m.tile_count()) {
                const std::string base = io::packed_base_name(m.name);
                ends.emplace_back(base + ".qdata", bytes_tensor(acc.data.data(), {static_cast<std::int64_t>(acc.data.size())}, torch::kByte));
                ends.emplace_back(base + ".qoffsets", bytes_tensor(acc.offsets.data(), {m.grid_rows(), m.grid_cols()}, torch::kLong));
                ends.emplace_back(base + ".qwidths", bytes_tensor(acc.widths.data(), {m.grid_rows(), m.grid_cols()}, torch::kByte));
                acc = {};
            }
        },
        ends, progress);
    progress.checkpoint(L + 1, units, "writing");

    // Order: packed data (multiples of 16 bytes: each starts 16-byte aligned in the file), offsets
    // (multiples of 8), then fp32 norms and biases, fp16 embeddings, and the width maps last.
    std::vector<io::SafetensorsFile> parts;
    for (int l = -1; l < L; ++l) {
        auto f = analysis::work::read_part(scratch.dir(), scratch.part(l).stem().string());
        if (!f) throw InputError(scratch.part(l), "a piece of the export went missing from its scratch folder");
        parts.push_back(std::move(*f));
    }
    auto find = [&](const std::string& name, int layer) -> const io::HostTensor& {
        const auto& f = parts[static_cast<std::size_t>(layer + 1)];
        return analysis::work::part_tensor(f, name, scratch.part(layer));
    };
    nlohmann::json matrices = nlohmann::json::object();
    std::vector<std::pair<std::string, const io::HostTensor*>> all;
    // The packed matrices: every linear layer, and the vocabulary matrices when the allocation covers them.
    std::vector<const analysis::MatrixAnalysis*> packed;
    for (const auto& m : a.matrices)
        if (!analysis::is_vocab_kind(m.kind) || mq.covers_vocab()) packed.push_back(&m);
    for (const char* suffix : {".qdata", ".qoffsets"})
        for (const auto* m : packed) all.emplace_back(io::packed_base_name(m->name) + suffix, nullptr);
    for (const auto& t : unquantized) all.emplace_back(t.name(), nullptr);
    for (const auto* m : packed) {
        all.emplace_back(io::packed_base_name(m->name) + ".qwidths", nullptr);
        matrices[m->name] = {m->rows(), m->cols()};
    }
    std::map<std::string, int> layer_of;
    for (const auto* m : packed)
        for (const char* suffix : {".qdata", ".qoffsets", ".qwidths"}) layer_of[io::packed_base_name(m->name) + suffix] = m->layer;
    for (const auto& t : unquantized) layer_of[t.name()] = t.spec.layer;
    for (auto& [name, tensor] : all) tensor = &find(name, layer_of.at(name));

    io::SafetensorsWriter writer;
    nlohmann::json checksums = nlohmann::json::object();
    for (const auto& [name, tensor] : all) {
        progress.check();
        checksums[name] = io::xxh3_64_hex(tensor->bytes);
        tensor->release_pages();
        writer.add_mapped(name, *tensor);
    }
    writer.set_metadata(io::kExportMetadataKey,
                        io::export_metadata(a.options.tile_rows, a.options.tile_cols, a.options.group, matrices, checksums)
                            .dump());
    // The folder appears only now: a cancelled or failed quantization leaves nothing behind.
    progress.check();
    const bool created = fs::create_directories(out_dir);
    try {
        writer.write(out_dir / "model.safetensors", progress);
        detail::write_tokenizer(ckpt, out_dir);
        nlohmann::ordered_json config = io::hf_config_to_json(cfg);
        config["quantization_config"] = {{"quant_method", "scalebits"},
                                         {"format_version", io::kExportFormatVersion},
                                         {"method", alloc_method_name(alloc.method)},
                                         {"quantizer", analysis::quantizer_name(quantizer)},
                                         {"tile", {a.options.tile_rows, a.options.tile_cols}},
                                         {"group", a.options.group},
                                         {"widths", a.widths},
                                         {"budget_bits_per_weight", info.budget_bits_per_weight},
                                         {"avg_bits", alloc.avg_bits},
                                         {"predicted_bytes", alloc.total_bytes},
                                         {"reordered", alloc.reordered},
                                         {"source_model", a.model_path.filename().string()}};
        io::write_file_atomic(out_dir / "config.json", config.dump(2) + "\n");
    } catch (...) {
        // A folder this export made holds only what it wrote: remove it whole, so that a cancel or
        // a failure publishes nothing. An existing folder keeps its files (each replaced atomically).
        std::error_code ec;
        if (created) fs::remove_all(out_dir, ec);
        throw;
    }

    ExportResult r;
    r.model_file_bytes = static_cast<std::int64_t>(fs::file_size(out_dir / "model.safetensors"));
    r.predicted_bytes = alloc.total_bytes;
    for (const auto& e : fs::directory_iterator(out_dir))
        if (e.is_regular_file()) r.folder_bytes += static_cast<std::int64_t>(e.file_size());
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

}  // namespace scalebits::exporting
