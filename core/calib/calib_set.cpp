#include "core/calib/calib_set.h"

#include <random>
#include <string>

#include "core/eval/text.h"
#include "core/util/error.h"

namespace scalebits::calib {

CalibrationSet make_calibration_set(const std::vector<std::int32_t>& stream, std::int64_t n, std::int64_t seq_len,
                                    std::uint64_t seed, const std::filesystem::path& source) {
    if (n <= 0) throw InputError(source, "the calibration set needs at least one sequence (got " + std::to_string(n) + ")");
    if (seq_len < 2)
        throw InputError(source, "calibration sequences need at least 2 tokens (got " + std::to_string(seq_len) + ")");
    const auto total = static_cast<std::int64_t>(stream.size());
    if (total < seq_len)
        throw InputError(source, "the calibration text has " + std::to_string(total) +
                                     " tokens, fewer than one sequence of " + std::to_string(seq_len));

    CalibrationSet set;
    set.seed = seed;
    set.stream_tokens = total;
    set.source = source;
    set.tokens = torch::empty({n, seq_len}, torch::kLong);
    auto* out = set.tokens.data_ptr<std::int64_t>();
    std::mt19937_64 rng(seed);
    const auto starts = static_cast<std::uint64_t>(total - seq_len + 1);
    for (std::int64_t s = 0; s < n; ++s) {
        const auto off = static_cast<std::int64_t>(rng() % starts);
        set.offsets.push_back(off);
        for (std::int64_t t = 0; t < seq_len; ++t) out[s * seq_len + t] = stream[static_cast<std::size_t>(off + t)];
    }
    return set;
}

CalibrationSet load_calibration_set(const tokenizer::Tokenizer& tok, const std::filesystem::path& text_file,
                                    std::int64_t n, std::int64_t seq_len, std::uint64_t seed) {
    const std::vector<std::int32_t> stream = eval::tokenize_text(tok, eval::read_text(text_file));
    return make_calibration_set(stream, n, seq_len, seed, text_file);
}

}  // namespace scalebits::calib
