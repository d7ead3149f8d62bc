#include "core/export/export_parts.h"

#include <torch/torch.h>

#include <fstream>
#include <map>

#include "core/analysis/vocab_tables.h"
#include "core/analysis/work_folder.h"
#include "core/io/atomic_file.h"
#include "core/io/gguf.h"
#include "core/io/gguf_llama.h"
#include "core/io/gguf_writer.h"
#include "core/io/packed_export.h"
#include "core/model/llama.h"
#include "core/reorder/reorder.h"
#include "core/tokenizer/hf_tokenizer_files.h"
#include "core/util/error.h"

namespace scalebits::exporting::detail {

namespace fs = std::filesystem;


// The export's scratch folder, a hidden sibling of the output folder (so it is on the same disk and
// never inside what is published), removed on every exit: one piece per layer and one for the two
// ends of the model.
ScratchFolder::ScratchFolder(const fs::path& out_dir) {
    fs::path p = fs::absolute(out_dir).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();
    // Appended, not "." + name: GCC 12 warns falsely (-Wstringop-overflow) on that operator+.
    dir_ = p.parent_path() / std::string(".").append(p.filename().string()).append(".export-work");
    std::error_code ec;
    fs::remove_all(dir_, ec);
    fs::create_directories(dir_, ec);
    if (ec) throw InputError(dir_, "cannot create the export's scratch folder: " + ec.message());
}

ScratchFolder::~ScratchFolder() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

fs::path ScratchFolder::part(int layer) const {
    return analysis::work::part_path(dir_, layer < 0 ? std::string("ends") : "layer." + std::to_string(layer));
}



namespace {

// A vocabulary matrix of the checkpoint (embedding or lm_head) as fp16, its columns in the hidden
// permutation, converted a chunk of rows at a time (never whole in fp32).
torch::Tensor vocabulary_matrix_f16(const io::HostTensor& t, const torch::Tensor& hidden, const Progress& progress) {
    const std::int64_t rows = t.shape.at(0), cols = t.row_elements();
    torch::Tensor out = torch::empty({rows, cols}, torch::kHalf);
    const std::int64_t chunk = std::max<std::int64_t>(1, (std::int64_t(16) << 20) / std::max<std::int64_t>(1, cols));
    torch::Tensor buf = torch::empty({chunk, cols}, torch::kFloat);
    for (std::int64_t r0 = 0; r0 < rows; r0 += chunk) {
        progress.check();
        const std::int64_t n = std::min(chunk, rows - r0);
        torch::Tensor b = buf.narrow(0, 0, n);
        t.rows_to_float(r0, n, b.data_ptr<float>());
        out.narrow(0, r0, n).copy_(hidden.defined() ? b.index_select(1, hidden) : b);
    }
    t.release_pages();
    return out;
}

}  // namespace

void write_model_ends(const model::Checkpoint& ckpt, const analysis::MatrixQuantizer& mq, const reorder::Permutations& perms,
                      const fs::path& file, torch::ScalarType small, const VocabChunkWriter& write_vocab, Piece& part,
                      const Progress& progress) {
    using Role = model::TensorSpec::Role;
    const torch::Tensor hidden = perms.hidden.empty() ? torch::Tensor() : torch::tensor(perms.hidden, torch::kLong);
    for (const auto& t : io::unquantized_tensors(ckpt.config, mq.covers_vocab())) {
        if (t.spec.layer >= 0) continue;
        const io::HostTensor& src = ckpt.tensor(t.name());
        if (t.spec.role == Role::FinalNorm) {
            torch::Tensor v = torch::empty({ckpt.config.dim}, torch::kFloat);
            src.rows_to_float(0, ckpt.config.dim, v.data_ptr<float>());
            part.emplace_back(t.name(), (hidden.defined() ? v.index_select(0, hidden) : v).to(small));
        } else {
            part.emplace_back(t.name(), vocabulary_matrix_f16(src, hidden, progress));
        }
    }
    for (int kind : {analysis::kEmbeddingKind, analysis::kLmHeadKind}) {
        const std::ptrdiff_t index = mq.vocab_matrix(kind);
        if (index < 0) continue;
        const analysis::MatrixAnalysis& m = mq.analysis().matrices[static_cast<std::size_t>(index)];
        const io::HostTensor& src = ckpt.tensor(m.name);
        const std::int64_t chunk = analysis::vocab_chunk_rows(m.cols(), m.tile_rows());
        for (std::int64_t first = 0; first < m.rows(); first += chunk) {
            progress.check();
            const std::int64_t rows = std::min(chunk, m.rows() - first);
            write_vocab(m, analysis::vocab_chunk_record(m, rows), first,
                        mq.quantize_vocab_rows(static_cast<std::size_t>(index), src, first, rows));
        }
        src.release_pages();
    }
    analysis::work::write_part(file, part);
}

void write_tokenizer(const model::Checkpoint& ckpt, const fs::path& dir, bool hugging_face) {
    const fs::path& src = ckpt.tokenizer_source;
    if (src.empty()) return;
    if (src.extension() == ".gguf" && hugging_face) {
        const std::optional<tokenizer::GgufVocab> vocab = io::gguf_vocab(io::read_gguf(src));
        if (vocab && tokenizer::has_hf_tokenizer_files(*vocab)) {
            const tokenizer::HfTokenizerFiles files = tokenizer::hf_tokenizer_files(*vocab, src.string());
            io::write_file_atomic(dir / "tokenizer.json", files.tokenizer_json);
            io::write_file_atomic(dir / "tokenizer_config.json", files.tokenizer_config_json);
            return;
        }
    }
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

void write_layer_pieces(const model::Checkpoint& ckpt, const analysis::MatrixQuantizer& mq, const reorder::Permutations& perms,
                        const ScratchFolder& scratch, const MatrixWriter& write, torch::ScalarType small, double units,
                        const Progress& progress) {
    const model::ModelConfig& cfg = ckpt.config;
    const std::string stage = std::string("quantizing (") + analysis::quantizer_name(mq.quantizer()) + ")";
    const auto unquantized = io::unquantized_tensors(cfg);
    for (int l = 0; l < cfg.n_layers; ++l) {
        progress.checkpoint(l, units, stage);
        model::DecoderLayer layer = model::load_decoder_layer(ckpt, cfg, l, torch::kCPU, /*release=*/true);
        reorder::apply_to_layer(layer, perms, cfg, l);
        Piece piece;
        for (int k = 0; k < model::kLinearKinds; ++k) {
            progress.check();
            const std::size_t index = mq.layer_matrices(l)[static_cast<std::size_t>(k)];
            auto& weight = layer.linear(static_cast<model::LinearKind>(k)).weight;
            write(mq.analysis().matrices[index], mq.quantize(index, weight), piece);
            weight = torch::Tensor();
        }
        for (const auto& t : unquantized)
            if (t.spec.layer == l) piece.emplace_back(t.name(), model::layer_parameter(layer, t.spec).to(small));
        analysis::work::write_part(scratch.part(l), piece);
    }
}

}  // namespace scalebits::exporting::detail
