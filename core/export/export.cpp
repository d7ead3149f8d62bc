#include "core/export/export.h"

#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <vector>

#include <scalebits/kernels.h>

#include "core/io/atomic_file.h"
#include "core/io/checksum.h"
#include "core/io/gguf.h"
#include "core/io/gguf_writer.h"
#include "core/io/hf_config.h"
#include "core/io/packed_export.h"
#include "core/io/safetensors_writer.h"
#include "core/model/llama.h"
#include "core/util/error.h"

namespace scalebits::exporting {

namespace fs = std::filesystem;

namespace {
// Owned bytes for the writer, with their checksum.
struct Blob {
    std::string name, dtype;
    std::vector<std::int64_t> shape;
    std::shared_ptr<std::vector<std::uint8_t>> bytes;
};

Blob blob_of(std::string name, std::string dtype, std::vector<std::int64_t> shape, const void* data, std::size_t n) {
    auto v = std::make_shared<std::vector<std::uint8_t>>(n);
    if (n) std::memcpy(v->data(), data, n);
    return {std::move(name), std::move(dtype), std::move(shape), std::move(v)};
}

Blob tensor_blob(std::string name, const torch::Tensor& t, bool half) {
    const auto c = t.detach().to(torch::kCPU, half ? torch::kHalf : torch::kFloat32).contiguous();
    return blob_of(std::move(name), half ? "F16" : "F32", c.sizes().vec(), c.data_ptr(),
                   static_cast<std::size_t>(c.numel() * c.element_size()));
}

void write_tokenizer(const model::Checkpoint& ckpt, const fs::path& dir) {
    const fs::path& src = ckpt.tokenizer_source;
    if (src.empty()) return;
    if (ckpt.format == "gguf" && src == ckpt.path) {
        std::map<std::string, io::GgufValue> keys;
        for (const auto& [k, v] : io::read_gguf(src).metadata)
            if (k.rfind("tokenizer.", 0) == 0 || k == "general.architecture") keys.emplace(k, v);
        io::write_gguf_metadata(dir / "tokenizer.gguf", keys);
        return;
    }
    const auto copy = [](const fs::path& from, const fs::path& to) {
        std::ifstream in(from, std::ios::binary);
        if (!in) throw InputError(from, "cannot be read to copy the tokenizer");
        io::write_file_atomic(to, std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
    };
    const std::string ext = src.extension().string();
    copy(src, dir / (ext == ".gguf" ? "tokenizer.gguf" : ext == ".json" ? "tokenizer.json" : "tokenizer.bin"));
    // tokenizer.json leaves BOS/EOS and add_bos_token to tokenizer_config.json beside it.
    if (ext == ".json" && fs::is_regular_file(src.parent_path() / "tokenizer_config.json"))
        copy(src.parent_path() / "tokenizer_config.json", dir / "tokenizer_config.json");
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

    model::LlamaModel model(ckpt);
    analysis::apply_layout(model, a, alloc.reordered);

    std::vector<Blob> data, offsets, widths;
    nlohmann::json matrices = nlohmann::json::object();
    analysis::quantize_matrices(
        model, a, alloc.widths, quantizer, alloc.reordered, analysis::WidthGranularity::Tile,
        [&](const analysis::MatrixAnalysis& m, quant::QuantizedMatrix&& q) {
            const kernels::TileGrid grid{static_cast<std::size_t>(m.rows), static_cast<std::size_t>(m.cols),
                                         static_cast<std::size_t>(m.tile_rows), static_cast<std::size_t>(m.tile_cols),
                                         static_cast<std::size_t>(m.group)};
            const auto codes = q.codes.to(torch::kCPU).contiguous();
            const auto scales = q.scales.to(torch::kCPU, torch::kFloat32).contiguous();
            const auto zeros = q.zeros.to(torch::kCPU).contiguous();
            const auto w = q.widths.to(torch::kCPU, torch::kUInt8).contiguous();
            kernels::PackedMatrix p;
            try {
                p = kernels::pack_matrix(grid, w.data_ptr<std::uint8_t>(), codes.data_ptr<std::uint8_t>(),
                                         scales.data_ptr<float>(), zeros.data_ptr<std::uint8_t>());
            } catch (const std::invalid_argument& e) {
                throw InputError(m.name + ": packing failed: " + e.what());
            }
            const std::string base = io::packed_base_name(m.name);
            const std::vector<std::int64_t> g{m.grid_rows, m.grid_cols};
            data.push_back(blob_of(base + ".qdata", "U8", {static_cast<std::int64_t>(p.data.size())}, p.data.data(),
                                   p.data.size()));
            offsets.push_back(blob_of(base + ".qoffsets", "I64", g, p.tile_offsets.data(), p.tile_offsets.size() * 8));
            widths.push_back(blob_of(base + ".qwidths", "U8", g, p.widths.data(), p.widths.size()));
            matrices[m.name] = {m.rows, m.cols};
        },
        progress);
    progress.checkpoint(1, 1, "writing");

    // Order: packed data (multiples of 16 bytes: each starts 16-byte aligned in the file), offsets
    // (multiples of 8), then fp32 norms and biases, fp16 embeddings, and the width maps last.
    std::vector<Blob> all;
    for (auto* list : {&data, &offsets}) all.insert(all.end(), list->begin(), list->end());
    const auto& cfg = model.config();
    for (const auto& t : io::unquantized_tensors(cfg))
        all.push_back(tensor_blob(t.name(), model.parameter(t.spec), t.dtype == "F16"));
    all.insert(all.end(), widths.begin(), widths.end());

    io::SafetensorsWriter writer;
    nlohmann::json checksums = nlohmann::json::object();
    for (const auto& b : all) {
        writer.add(b.name, b.dtype, b.shape, *b.bytes, b.bytes);
        checksums[b.name] = io::xxh3_64_hex(*b.bytes);
    }
    writer.set_metadata(io::kExportMetadataKey,
                        io::export_metadata(a.options.tile_rows, a.options.tile_cols, a.options.group, matrices, checksums)
                            .dump());
    // The folder appears only now: a cancelled or failed quantization leaves nothing behind.
    progress.check();
    const bool created = fs::create_directories(out_dir);
    try {
        writer.write(out_dir / "model.safetensors", progress);
        write_tokenizer(ckpt, out_dir);
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
