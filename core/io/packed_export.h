#pragma once
// The export folder (format version 1), what `scalebits-cli export` writes and every --model option
// reads back:
//   config.json        Hugging Face fields of the source's family (architectures: LlamaForCausalLM,
//                      MistralForCausalLM, Qwen2ForCausalLM or Qwen3ForCausalLM, with its RoPE
//                      scaling, biases, window) plus "quantization_config":
//                      {quant_method: "scalebits", format_version, method, quantizer, tile: [Tr, Tc],
//                       group, widths, budget_bits_per_weight, avg_bits, predicted_bytes, reordered}
//   tokenizer.gguf     the source's tokenizer.ggml.* keys (GGUF sources), or tokenizer.bin
//                      (llama2.c) or tokenizer.json (Hugging Face), copied
//   model.safetensors  for every quantized matrix, with <base> its weight name without ".weight":
//                        <base>.qdata     U8 [bytes]: the packed tiles (kernels.h: per tile the codes,
//                                         the fp16 scales and the packed zero points)
//                        <base>.qoffsets  I64 [grid_rows, grid_cols]: byte offset of each tile in qdata
//                        <base>.qwidths   U8 [grid_rows, grid_cols]: each tile's width
//                      the unquantized tensors under their usual names (embedding and lm_head F16;
//                      RMSNorm weights, q/k head norms and biases F32), and metadata "scalebits.export": JSON
//                      {format_version, tile, group, matrices: {name: [rows, cols]},
//                       checksums: {tensor: XXH3-64 hex}}.
// Weights are in the analysis' reordered layout; the reordering is folded into every tensor, so the
// folder is an ordinary model of the same family that computes the same function.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <scalebits/kernels.h>

#include "core/io/host_tensor.h"
#include "core/base/model_config.h"
#include "core/base/tensor_names.h"

namespace scalebits::io {

inline constexpr int kExportFormatVersion = 1;
inline constexpr const char* kExportMetadataKey = "scalebits.export";

// One packed matrix pointing into the mapped model file (or an aligned copy); `owner` keeps the
// bytes alive.
struct PackedLinear {
    kernels::PackedMatrixView view;
    std::shared_ptr<const void> owner;
};

struct PackedExport {
    model::ModelConfig config;
    nlohmann::json quantization;                 // config.json's quantization_config
    std::map<std::string, HostTensor> tensors;   // unquantized, canonical names
    std::map<std::string, PackedLinear> packed;  // by weight name ("...q_proj.weight")
    std::filesystem::path tokenizer_file;        // empty when the folder has none
};

// "model.layers.0.self_attn.q_proj.weight" -> "model.layers.0.self_attn.q_proj": the prefix of a
// matrix's .qdata / .qoffsets / .qwidths tensors.
std::string packed_base_name(const std::string& weight_name);

// The tensors an export stores unquantized, in file order: per layer its RMSNorm weights, Qwen3's
// q/k head norms and the biases its family has (all F32), then the final norm (F32), the embedding
// and an untied lm_head (F16). Export writes them; the size model counts them.
struct UnquantizedTensor {
    model::TensorSpec spec;  // name, shape, role, layer, kind
    std::string dtype;       // "F32" | "F16"
    const std::string& name() const { return spec.name; }
    const std::vector<std::int64_t>& shape() const { return spec.shape; }
    std::int64_t bytes() const;
};
// With `vocab_packed` the embedding and lm_head are packed matrices (whole-file allocations) and
// are not in the list.
std::vector<UnquantizedTensor> unquantized_tensors(const model::ModelConfig& config, bool vocab_packed = false);

// The kExportMetadataKey JSON: export writes it, the size model sizes the same text.
nlohmann::json export_metadata(std::int64_t tile_rows, std::int64_t tile_cols, std::int64_t group,
                               nlohmann::json matrices, nlohmann::json checksums);

// A folder whose config.json has quantization_config.quant_method == "scalebits".
bool is_packed_export(const std::filesystem::path& path);

// Reads and verifies everything before returning: the config, every checksum, every packed
// matrix's grid, width map and tile offsets (kernels::validate) against its stated shape. Throws
// InputError/FormatError naming the file and the problem (a flipped byte, a cut file, a wrong width
// map, a missing tensor).
PackedExport read_packed_export(const std::filesystem::path& folder);

}  // namespace scalebits::io
