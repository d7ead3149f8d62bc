#pragma once
// A memory budget as the user states it: average bits per weight of the quantized layers (packed
// weights, scales, zeros and tile headers included: quantized bytes * 8 / quantized weights) or bytes
// of the whole exported file (the caller's fixed overhead, i.e. unquantized tensors and file header,
// is subtracted first).
#include <cstdint>
#include <string>

namespace scalebits {

struct Budget {
    enum class Unit { BitsPerWeight, Bytes };
    Unit unit = Unit::BitsPerWeight;
    double value = 0.0;

    static Budget bits_per_weight(double bits) { return {Unit::BitsPerWeight, bits}; }
    static Budget bytes(double bytes) { return {Unit::Bytes, bytes}; }
    std::string describe() const;  // "2.5 bits per weight" / "123456 bytes"
};

// Bits the quantized layers may take under the budget (rounded down, so the result never exceeds it).
// Throws InputError for a non-finite or negative budget, or a byte budget that the fixed overhead
// alone already exceeds.
std::int64_t budget_to_bits(const Budget& budget, std::int64_t quantized_weights, std::int64_t overhead_bytes);

// Throws InputError when min_bits (the cheapest allocation the constraints allow) exceeds what the
// budget allows, stating both in the budget's unit, so the user sees how far to move the slider.
// bits / weights in bits per weight, raised by the few ulps it takes for its budget (budget_to_bits,
// which floors) to reach `bits`: a slider range's ends that are themselves reachable (the plain
// quotient can give a budget one bit short).
double avg_bits_reaching(std::int64_t bits, std::int64_t quantized_weights);

void require_feasible(const Budget& budget, std::int64_t allowed_bits, std::int64_t min_bits,
                      std::int64_t quantized_weights, std::int64_t overhead_bytes, const std::string& what);

}  // namespace scalebits
