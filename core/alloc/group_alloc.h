#pragma once
// Per-group irregular mixed precision: one width per row-group (g consecutive input columns of one
// row), solved by the same ladder over groups. Cost per group is len*b + 16 (fp16 scale) + b (zero)
// bits, with no tile header and no alignment. This is the quality reference: kernels cannot run it
// fast (every group may change width), so it is not a runtime-friendly method.
#include "core/alloc/budget.h"
#include "core/alloc/cost_model.h"
#include "core/alloc/ladder.h"

#include <cstdint>
#include <vector>

namespace scalebits {

struct GroupProblem {
    std::vector<int> widths{2, 3, 4, 8};
    std::vector<MatrixSpec> matrices;  // rows, cols, group size and width constraints are used
    // S[group * widths.size() + k]; groups matrix by matrix, row by row, then left to right.
    std::vector<double> S;
    std::int64_t overhead_bytes = 0;

    std::int64_t group_count() const;
    std::int64_t quantized_weights() const;
};

struct GroupAllocation {
    std::vector<std::uint8_t> widths;  // width in bits per group
    std::int64_t budget_bits = 0;
    std::int64_t bits = 0;
    std::int64_t quantized_bytes = 0;  // ceil(bits / 8)
    std::int64_t total_bytes = 0;
    double avg_bits = 0.0;
    double predicted_loss = 0.0;
    std::size_t prefix = 0;
};

class GroupAllocator {
public:
    explicit GroupAllocator(const GroupProblem& problem);
    const Ladder& ladder() const { return ladder_; }
    GroupAllocation solve(const Budget& budget) const;

private:
    Ladder ladder_;
    std::int64_t quantized_weights_ = 0;
    std::int64_t overhead_bytes_ = 0;
};

}  // namespace scalebits
