#pragma once
// The analysis file: a safetensors container (documented, readable by any safetensors tool) with
//  - metadata key "scalebits.analysis": JSON with the format version, model path and fingerprint,
//    model config, options, candidate widths and one record per matrix (shape, tile grid, totals);
//  - tensors "cost.original.<matrix>" / "cost.reordered.<matrix>" (F64 [tiles, widths]: S(t, b)),
//    "fisher.original.<matrix>" / "fisher.reordered.<matrix>" (F64 [tiles]: Fisher mass per tile),
//    "cost.group.<matrix>" (F32 [rows * groups per row, widths]: S per row-group, reordered layout),
//    "r.<matrix>" (F32 [rows]) and "c.<matrix>" (F32 [cols]) in the reordered layout,
//    "perm.hidden", "perm.ffn.<l>", "perm.heads.<l>", "perm.v_dims.<l>" (I64, perm[new] = old),
//    "hessian.<l>.<site>" (F32 [K(K+1)/2]: the upper triangle of the symmetric K x K matrix, row by
//    row, calib::pack_upper_triangle; reordered layout; site = attn_in, o_in, mlp_in, down_in).
//    Versions 1-2 stored F32 [K, K]. At Llama-3-8B's shape the triangles are 16.4 GB, about the size
//    of the BF16 model; GPTQ reads one layer's at a time.
//  - metadata key "scalebits.checksums": JSON {tensor: XXH3-64 hex}, verified on every load.
// Layer streaming (streamed_analyze.h) writes the same file: its first pass keeps only each matrix's
// Fisher row and column sums, from which the permutations are decided (P_hidden needs every layer's
// sums: columns of q, k, v, gate, up and rows of o, down), and its second pass recomputes each layer's
// per-weight Fisher, gathers it into the reordered layout and builds that layout's tables.
// Loading maps the file and copies only the small tables, so reopening is instant; the group
// tables, r, c and the Hessians are read on demand.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "core/analysis/analysis.h"
#include "core/io/host_tensor.h"
#include "core/io/safetensors.h"
#include "core/io/safetensors_writer.h"

namespace scalebits::analysis {

// Tensors beyond the tables (r, c, Hessians) are added by the caller through `extra`. The write
// checks `progress`'s token every 64 MiB; a cancelled save leaves no file (and any earlier one intact).
void save_analysis(const Analysis& analysis, const std::filesystem::path& path,
                   const std::function<void(io::SafetensorsWriter&)>& extra = {}, const Progress& progress = {});

// Throws InputError/FormatError naming the file when it is not an analysis file of a known version
// or its tables do not match its own description.
Analysis load_analysis(const std::filesystem::path& path);

// An extra tensor of the file ("r.<matrix>", "hessian.3.mlp_in", ...); throws InputError if absent.
io::HostTensor read_analysis_tensor(const std::filesystem::path& path, const std::string& name);
bool analysis_has_tensor(const std::filesystem::path& path, const std::string& name);

// Every tensor of an analysis file (or of the work files of a streamed analysis, written the same
// way) against the checksums stored beside them; files without checksums are taken as they are.
// Throws FormatError naming the file and the tensor.
void verify_checksums(const io::SafetensorsFile& file, const std::filesystem::path& path);
// One tensor of `file` against its stored checksum. load_analysis checks the tables it reads; the
// tensors only some jobs read (GPTQ Hessians, r and c of the error weights, per-group tables: at 8B
// nearly all of a 17 GB file) are checked by their reader, each when it is read.
void verify_checksum(const io::SafetensorsFile& file, const io::HostTensor& tensor, const std::filesystem::path& path);
bool checked_when_read(const std::string& tensor_name);
// The metadata key the checksums are stored under (SafetensorsWriter::add_checksums).
inline constexpr const char* kChecksumsKey = "scalebits.checksums";

// Throws InputError when `model_path` is not the file the analysis was made from.
void check_model_matches(const Analysis& analysis, const std::filesystem::path& model_path);

}  // namespace scalebits::analysis
