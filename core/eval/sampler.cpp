#include "core/eval/sampler.h"

#include <algorithm>
#include <cmath>

#include "core/util/error.h"
#include "core/util/option_error.h"

namespace scalebits::eval {

void SamplingOptions::validate() const {
    if (!(temperature >= 0.0) || !std::isfinite(temperature)) throw OptionError(Setting::Temperature, "the sampling temperature must be 0 (greedy) or more");
    if (top_k < 0) throw OptionError(Setting::TopK, "top-k must be 0 (every token) or more");
    if (!(top_p > 0.0 && top_p <= 1.0)) throw OptionError(Setting::TopP, "top-p must be in (0, 1]");
}

Sampler::Sampler(const SamplingOptions& options) : o_(options), rng_(options.seed) { o_.validate(); }

std::int32_t Sampler::next(const float* logits, std::int64_t vocab) {
    if (o_.temperature <= 0.0) return static_cast<std::int32_t>(std::max_element(logits, logits + vocab) - logits);
    order_.resize(static_cast<std::size_t>(vocab));
    for (std::int64_t i = 0; i < vocab; ++i) order_[static_cast<std::size_t>(i)] = {logits[i], static_cast<std::int32_t>(i)};
    // The candidates, most likely first (ties by id, so a seed gives one text everywhere).
    const auto more_likely = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
    std::size_t keep = order_.size();
    if (o_.top_k > 0 && static_cast<std::size_t>(o_.top_k) < keep) {
        keep = static_cast<std::size_t>(o_.top_k);
        std::partial_sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(keep), order_.end(), more_likely);
    } else {
        std::sort(order_.begin(), order_.end(), more_likely);
    }
    const double mx = order_[0].first;
    std::vector<double> p(keep);
    double sum = 0;
    for (std::size_t i = 0; i < keep; ++i) sum += p[i] = std::exp((order_[i].first - mx) / o_.temperature);
    if (o_.top_p < 1.0) {
        double acc = 0;
        std::size_t n = 0;
        while (n < keep && acc < o_.top_p * sum) acc += p[n++];
        keep = std::max<std::size_t>(1, n);
        sum = acc > 0 ? acc : p[0];
    }
    double u = std::uniform_real_distribution<double>(0.0, sum)(rng_);
    for (std::size_t i = 0; i < keep; ++i) {
        u -= p[i];
        if (u < 0) return order_[i].second;
    }
    return order_[keep - 1].second;
}

}  // namespace scalebits::eval
