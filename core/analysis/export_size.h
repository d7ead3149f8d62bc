#pragma once
// The exact size of model.safetensors outside the packed tiles and their 9 header bytes per tile:
// the unquantized tensors (fp16 embedding and lm_head, fp32 norms) and the safetensors header (JSON
// with every tensor's entry, the export metadata and its checksums). The allocator adds this to the
// tile bytes, so the budget a user sets in bytes is the size of the file they get. The header's
// numbers (data offsets, byte counts) depend slightly on the allocation; they are sized for the
// largest file any allocation could make, so the estimate never falls short, and exceeds the real
// header by at most a few bytes per tensor.
#include <cstdint>

#include "core/analysis/analysis.h"

namespace scalebits::exporting {

// `vocab_packed`: the embedding and lm_head are packed matrices of the allocation (whole-file
// budgets) rather than fp16 tensors.
std::int64_t export_overhead_bytes(const analysis::Analysis& analysis, bool vocab_packed = false);

}  // namespace scalebits::exporting
