#include "core/export/hf_export.h"

#include <torch/torch.h>

#include <chrono>
#include <map>

#include "core/analysis/work_folder.h"
#include "core/export/export_parts.h"
#include "core/io/atomic_file.h"
#include "core/io/hf_config.h"
#include "core/io/safetensors_writer.h"
#include "core/base/tensor_names.h"
#include "core/util/error.h"

namespace scalebits::exporting {

namespace fs = std::filesystem;

ExportResult export_hf(const model::Checkpoint& ckpt, const analysis::Analysis& a, const analysis::Allocation& alloc,
                       analysis::Quantizer quantizer, const fs::path& out_dir, const ExportInfo& info,
                       const Progress& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    if (alloc.granularity != analysis::WidthGranularity::Tile)
        throw InputError("the per-group method is a quality reference the kernels cannot run; export a tile method");
    if (!ckpt.packed.empty()) throw InputError(ckpt.path, "is already a packed export; export from the original model");
    if (fs::exists(out_dir) && !fs::is_directory(out_dir)) throw InputError(out_dir, "exists and is not a folder");
    const model::ModelConfig& cfg = ckpt.config;
    cfg.validate(ckpt.path.string());
    // A GGUF states Llama 3 RoPE scaling as per-dimension divisors, which transformers has no
    // rope_type for: the folder's config.json states the llama3 parameters that give them.
    model::ModelConfig hf_cfg = cfg;
    if (cfg.rope_scaling.type == model::RopeScaling::Type::FreqFactors) {
        const auto llama3 = model::llama3_scaling_of_factors(cfg);
        if (!llama3)
            throw InputError(ckpt.path, "its RoPE frequency factors are not Llama 3 scaling, the one form of them a "
                                        "Hugging Face config can state; export the packed format instead");
        hf_cfg.rope_scaling = *llama3;
    }
    const analysis::MatrixQuantizer mq(a, alloc.widths, quantizer, alloc.reordered, analysis::WidthGranularity::Tile,
                                       &ckpt, torch::kCPU, progress);
    const reorder::Permutations none;
    const reorder::Permutations& perms = alloc.reordered ? a.permutations : none;

    const detail::ScratchFolder scratch(out_dir);
    const int L = static_cast<int>(cfg.n_layers);
    const double units = L + 2;
    detail::write_layer_pieces(
        ckpt, mq, perms, scratch,
        [](const analysis::MatrixAnalysis& m, quant::QuantizedMatrix&& q, detail::Piece& piece) {
            // w = fp16(scale) * (q - zero), formed in fp32 (as the kernels do), stored rounded to fp16.
            piece.emplace_back(m.name, q.dequantize().to(torch::kCPU, torch::kHalf).contiguous());
        },
        torch::kHalf, units, progress);
    progress.checkpoint(L, units, "embedding and lm_head");
    // Vocabulary matrices in the allocation: dequantized a chunk of tile rows at a time into fp16.
    std::map<std::string, torch::Tensor> vocab;
    detail::Piece ends;
    detail::write_model_ends(
        ckpt, mq, perms, scratch.part(-1), torch::kHalf,
        [&](const analysis::MatrixAnalysis& m, const analysis::MatrixAnalysis& chunk, std::int64_t first, quant::QuantizedMatrix&& q) {
            torch::Tensor& t = vocab[m.name];
            if (!t.defined()) t = torch::empty({m.rows(), m.cols()}, torch::kHalf);
            t.narrow(0, first, chunk.rows()).copy_(q.dequantize());
            if (first + chunk.rows() == m.rows()) ends.emplace_back(m.name, t);
        },
        ends, progress);
    progress.checkpoint(L + 1, units, "writing");

    // The canonical tensors in their usual order, each from its piece.
    std::vector<io::SafetensorsFile> pieces;
    for (int l = -1; l < L; ++l) {
        auto f = analysis::work::read_part(scratch.dir(), scratch.part(l).stem().string());
        if (!f) throw InputError(scratch.part(l), "a piece of the export went missing from its scratch folder");
        pieces.push_back(std::move(*f));
    }
    io::SafetensorsWriter writer;
    for (const auto& t : model::canonical_tensors(cfg))
        writer.add_mapped(t.name, analysis::work::part_tensor(pieces[static_cast<std::size_t>(t.layer + 1)], t.name,
                                                              scratch.part(t.layer)));
    writer.set_metadata("format", "pt");  // what transformers' safetensors loader expects
    progress.check();
    const bool created = fs::create_directories(out_dir);
    try {
        writer.write(out_dir / "model.safetensors", progress);
        detail::write_tokenizer(ckpt, out_dir, /*hugging_face=*/true);
        nlohmann::ordered_json config = io::hf_config_to_json(hf_cfg);
        config["torch_dtype"] = "float16";
        // Not a quantization_config (loaders would look for a kernel): a note of where the weights came from.
        config["scalebits"] = {{"dequantized_from", "scalebits"},
                               {"method", alloc_method_name(alloc.method)},
                               {"quantizer", analysis::quantizer_name(quantizer)},
                               {"tile", {a.options.tile_rows, a.options.tile_cols}},
                               {"group", a.options.group},
                               {"budget_bits_per_weight", info.budget_bits_per_weight},
                               {"avg_bits", alloc.avg_bits},
                               {"packed_bytes", alloc.total_bytes},
                               {"source_model", a.model_path.filename().string()}};
        io::write_file_atomic(out_dir / "config.json", config.dump(2) + "\n");
    } catch (...) {
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
