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

}  // namespace scalebits
