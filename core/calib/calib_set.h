#pragma once
// The calibration set of DESIGN.md 2.1: n sequences of L tokens cut from one tokenized text at
// random start offsets. The draw is deterministic and portable: a std::mt19937_64 seeded with
// `seed` (its output sequence is fixed by the C++ standard) yields one 64-bit value per sequence,
// and sequence s starts at offset value_s mod (T - L + 1), T being the number of tokens. The
// modulo (not std::uniform_int_distribution, whose algorithm differs between standard libraries)
// keeps the same offsets on every platform; its bias is below (T / 2^64), negligible. Sequences
// may overlap when n * L approaches T. The calibration text must not be the evaluation text.
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace scalebits::calib {

struct CalibrationSet {
    torch::Tensor tokens;                // {n, L} int64 on the CPU
    std::vector<std::int64_t> offsets;   // start offset of each sequence in the token stream
    std::uint64_t seed = 0;
    std::int64_t stream_tokens = 0;      // T, tokens in the whole text
    std::filesystem::path source;        // the text file (empty when built from tokens)

    std::int64_t sequences() const { return tokens.defined() ? tokens.size(0) : 0; }
    std::int64_t seq_len() const { return tokens.defined() ? tokens.size(1) : 0; }
};

constexpr std::uint64_t kDefaultCalibrationSeed = 0x5CA1EB175ULL;

// Draws the set from an already tokenized stream. Throws InputError (naming `source`) when n or L
// is not positive, L < 2 (no next token to predict) or the stream holds fewer than L tokens.
CalibrationSet make_calibration_set(const std::vector<std::int32_t>& stream, std::int64_t n, std::int64_t seq_len,
                                    std::uint64_t seed = kDefaultCalibrationSeed,
                                    const std::filesystem::path& source = {});

// Reads the text file (UTF-8), tokenizes it once without BOS and draws the set.
CalibrationSet load_calibration_set(const tokenizer::Tokenizer& tok, const std::filesystem::path& text_file,
                                    std::int64_t n, std::int64_t seq_len,
                                    std::uint64_t seed = kDefaultCalibrationSeed);

}  // namespace scalebits::calib
