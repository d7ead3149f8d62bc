#pragma once
// Export of an allocation as a packed model folder (format in core/io/packed_export.h): the
// full-precision model in the allocation's layout, every matrix quantized with the same quantizer
// the sweep measures and packed tile by tile for the kernels, the tokenizer copied from its source.
// Layer by layer: one decoder layer is loaded in fp32 at a time, and its packed tiles go to a scratch
// folder beside the output (a hidden ".<name>.export-work", removed on every exit) from which the
// file is assembled, so the working set is one layer, whatever the model's size.
// Every file is written atomically (temporary file, fsync, rename, fsync of the folder): a crash or
// a full disk never leaves a half file under a final name, and a reader that has the old file
// mapped keeps reading the old bytes.
#include <cstdint>
#include <filesystem>

#include "core/analysis/allocation.h"
#include "core/analysis/fake_quant.h"
#include "core/model/checkpoint.h"
#include "core/util/cancel.h"

namespace scalebits::exporting {

struct ExportInfo {
    double budget_bits_per_weight = 0.0;  // what the user asked for (recorded in config.json)
};

struct ExportResult {
    std::int64_t model_file_bytes = 0;  // model.safetensors
    std::int64_t predicted_bytes = 0;   // the allocation's total_bytes
    std::int64_t folder_bytes = 0;      // model + config + tokenizer
    double seconds = 0.0;
};

// Throws InputError for an allocation the kernels cannot run (the per-group method), a packed input
// model, or an output path that is an existing file; I/O errors name the file.
ExportResult export_model(const model::Checkpoint& checkpoint, const analysis::Analysis& analysis,
                          const analysis::Allocation& allocation, analysis::Quantizer quantizer,
                          const std::filesystem::path& out_dir, const ExportInfo& info = {},
                          const Progress& progress = {});

}  // namespace scalebits::exporting
