#pragma once
// Choosing the next token from logits: greedy (temperature 0, the first of equal maxima, as argmax),
// or sampled from softmax(logits / temperature) restricted to the top_k most likely tokens and to the
// smallest set of them whose probability reaches top_p, with a seeded generator (the same seed gives
// the same text).
#include <cstdint>
#include <random>
#include <vector>

namespace scalebits::eval {

struct SamplingOptions {
    double temperature = 0.0;  // 0: greedy
    std::int64_t top_k = 0;    // 0: every token
    double top_p = 1.0;        // in (0, 1]
    std::uint64_t seed = 0;
    // Throws InputError naming the option when a value is out of range.
    void validate() const;
};

class Sampler {
public:
    explicit Sampler(const SamplingOptions& options);
    std::int32_t next(const float* logits, std::int64_t vocab);

private:
    SamplingOptions o_;
    std::mt19937_64 rng_;
    std::vector<std::pair<float, std::int32_t>> order_;
};

}  // namespace scalebits::eval
