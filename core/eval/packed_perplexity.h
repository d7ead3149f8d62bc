#pragma once
// Perplexity (DESIGN.md 2.5: the same windows and scoring as eval::perplexity) of an export through
// the decode engine: each window from an empty KV cache, its logits taken a chunk of positions at
// a time, so no ctx x vocab buffer is held.
#include <cstdint>
#include <vector>

#include "core/eval/perplexity.h"
#include "core/runtime/packed_decoder.h"

namespace scalebits::runtime {

// The decoder's max_context must be at least options.ctx. Throws InputError when the text is shorter
// than one window; CancelledError through `progress` (checked per window).
eval::PerplexityResult perplexity_packed(PackedDecoder& decoder, const std::vector<std::int32_t>& tokens,
                                         const eval::PerplexityOptions& options, const Progress& progress = {});

}  // namespace scalebits::runtime
