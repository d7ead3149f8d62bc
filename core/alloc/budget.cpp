#include "core/alloc/budget.h"

#include "core/util/error.h"

#include <cmath>
#include <cstdio>

namespace scalebits {

std::string Budget::describe() const {
    char buf[64];
    if (unit == Unit::BitsPerWeight)
        std::snprintf(buf, sizeof buf, "%.4g bits per weight", value);
    else
        std::snprintf(buf, sizeof buf, "%.0f bytes", value);
    return buf;
}

std::int64_t budget_to_bits(const Budget& budget, std::int64_t quantized_weights, std::int64_t overhead_bytes) {
    if (!std::isfinite(budget.value) || budget.value < 0)
        throw InputError("budget of " + budget.describe() + " is not a non-negative number");
    if (budget.unit == Budget::Unit::BitsPerWeight) {
        if (budget.value > 64) throw InputError("budget of " + budget.describe() + " is implausibly large");
        // floor, so an allocation that fits the integer budget also fits the stated average.
        return static_cast<std::int64_t>(std::floor(budget.value * double(quantized_weights)));
    }
    const double left = std::floor(budget.value) - double(overhead_bytes);
    if (left < 0)
        throw InputError("budget of " + budget.describe() + " is below the " + std::to_string(overhead_bytes) +
                         " bytes the unquantized tensors and file header take by themselves");
    if (left > 9.0e17) throw InputError("budget of " + budget.describe() + " is implausibly large");
    return static_cast<std::int64_t>(left) * 8;
}

double avg_bits_reaching(std::int64_t bits, std::int64_t quantized_weights) {
    if (quantized_weights <= 0) return 0.0;
    double m = double(bits) / double(quantized_weights);
    while (std::floor(m * double(quantized_weights)) < double(bits)) m = std::nextafter(m, 1e300);
    return m;
}

void require_feasible(const Budget& budget, std::int64_t allowed_bits, std::int64_t min_bits,
                      std::int64_t quantized_weights, std::int64_t overhead_bytes, const std::string& what) {
    if (allowed_bits >= min_bits) return;
    char buf[160];
    if (budget.unit == Budget::Unit::BitsPerWeight)
        std::snprintf(buf, sizeof buf, "%.4f bits per weight", quantized_weights > 0 ? double(min_bits) / double(quantized_weights) : 0.0);
    else
        std::snprintf(buf, sizeof buf, "%lld bytes", static_cast<long long>((min_bits + 7) / 8 + overhead_bytes));
    throw InputError("budget of " + budget.describe() + " is below the minimum of " + buf + " for " + what +
                     " (every one at its lowest allowed width; pinned and minimum widths count)");
}

}  // namespace scalebits
