#pragma once
// The analysis of one model: everything allocation, heatmaps and export need without
// recalibrating. An immutable value (plain vectors, no LibTorch) handed from the worker that makes
// or loads it to the allocator, the CLI and the GUI. Stored as a safetensors file whose metadata
// holds the JSON description (analysis_file.h); the GPTQ Hessians stay in the file and are read on
// demand.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/alloc/matrix_geometry.h"
#include "core/base/model_config.h"
#include "core/reorder/permutations.h"

namespace scalebits::analysis {

// 2: the model config as Hugging Face config.json fields, so the family is recorded.
// 3: Hessians stored as their upper triangle (half the size).
// 4: the vocabulary matrices (embedding, untied lm_head) have records and tables like the linear
//    layers, so the whole file can be allocated. Versions 1-3 are still read (without them).
inline constexpr int kAnalysisFormatVersion = 4;

// MatrixAnalysis::kind: the seven linear kinds (model::LinearKind, 0..6), then the vocabulary
// matrices, whose rows are tokens: the embedding (which serves as the lm_head too when tied) and
// an untied lm_head. Their layer is -1.
inline constexpr int kEmbeddingKind = 7;
inline constexpr int kLmHeadKind = 8;
inline constexpr int kMatrixKinds = 9;
constexpr bool is_vocab_kind(int kind) { return kind == kEmbeddingKind || kind == kLmHeadKind; }
// "q_proj" .. "down_proj", "embed_tokens", "lm_head".
const char* matrix_kind_name(int kind);

// Identifies the model file an analysis was made from: size and a hash of its bytes.
struct ModelFingerprint {
    std::uint64_t size = 0;
    std::uint64_t hash = 0;  // 64-bit hash of the whole file (or of every file of a folder)
    bool operator==(const ModelFingerprint&) const = default;
};
ModelFingerprint fingerprint_model(const std::filesystem::path& model_path);

struct AnalysisOptions {
    std::filesystem::path calib_text;
    std::int64_t samples = 128;
    std::int64_t seq_len = 512;
    std::uint64_t seed = 0;
    std::int64_t tile_rows = 128, tile_cols = 128;
    std::int64_t group = 0;  // 0 = automatic (128, or 64 when a dimension is not a multiple of 128)
    // Every integer width 2..8: with only {2, 3, 4, 8} the solver could mix just 4 and 8 bits between
    // 4.3 and 5.5 bits per weight, where many users of 4-5 bit models are.
    std::vector<int> widths{2, 3, 4, 5, 6, 7, 8};
    bool reorder_heads = false;
    std::string device = "cpu";
};

// One quantized matrix (7 per decoder layer) with its per-tile tables in both layouts.
// Its geometry (shape, tiles, group) is MatrixGeometry's grid.
struct MatrixAnalysis : MatrixGeometry {
    std::string name;  // canonical weight name, e.g. model.layers.3.mlp.down_proj.weight
    int layer = 0;
    int kind = 0;      // model::LinearKind
    // S(t, b): predicted loss increase of tile t at candidate width widths[k], [t * widths + k].
    std::vector<double> cost_original, cost_reordered;
    // Fisher mass per tile (sum of F over the tile): the sensitivity heatmap.
    std::vector<double> fisher_original, fisher_reordered;
    double fisher_total = 0.0;
    double top10_share_before = 0.0, top10_share_after = 0.0;
    double factored_corr = 0.0, factored_log_corr = 0.0;
};

struct Analysis {
    int format_version = kAnalysisFormatVersion;
    std::filesystem::path model_path;
    ModelFingerprint fingerprint;
    model::ModelConfig config;
    AnalysisOptions options;
    std::vector<int> widths;  // candidate widths, ascending (the S tables' columns)
    reorder::Permutations permutations;
    std::vector<MatrixAnalysis> matrices;  // layer by layer, q k v o gate up down
    double calib_loss = 0.0;   // mean next-token loss on the calibration set (nats)
    double seconds = 0.0;      // wall time of the analysis
    std::int64_t unquantized_bytes = 0;  // model file bytes outside the packed tiles (exporting::export_overhead_bytes)
    std::filesystem::path file;  // where it was loaded from or saved to (empty when in memory only)

    std::int64_t total_tiles() const;
    std::int64_t total_weights() const;
    const MatrixAnalysis& matrix(const std::string& name) const;  // throws InputError
};

// Share of a per-tile mass held by the top 10% of tiles (at least one tile).
double top_share(const std::vector<double>& mass, double fraction = 0.1);

}  // namespace scalebits::analysis
