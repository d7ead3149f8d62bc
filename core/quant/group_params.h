#pragma once
// Building blocks shared by RTN and GPTQ: the fp16 scale rule, the per-group clip search and the
// code/dequantize formulas. Both quantizers go through these functions, so a fake-quantized model
// and the exported one agree bit for bit.
//
// Group range: [lo, hi] = [min(x_min, 0), max(x_max, 0)] (zero always inside, so the zero point
// stays in [0, maxq]); candidate p of the clip grid uses [p*lo, p*hi] (shrinking toward zero on
// both ends by the same factor).
// Scale: (hi - lo) / maxq rounded UP to the next fp16 value (so the unclipped range is always
// covered and |x - Q(x)| <= scale/2 holds), then clamped to [2^-24, 65504], the smallest positive
// fp16 (subnormal) and the largest finite one: a scale is never 0, inf or NaN. A group whose range
// needs a scale above 65504 (|x| beyond ~1.9e5 at 2 bits) saturates at the ends of the grid.
// Zero point: round(-lo / scale) clamped to [0, maxq]. Codes: clamp(round(x / scale) + zero, 0, maxq).
// Constant groups (every value v): scale = fp16(|v|) (clamped as above), zero = 1 if v < 0 else 0, so
// the code sits one step from the zero point and the group comes back as fp16(v) (exactly v when v
// is an fp16 value; 0 stays exactly 0 with the smallest scale and code = zero).
#include <ATen/core/Tensor.h>

#include <vector>

namespace scalebits::quant::detail {

inline constexpr float kMinScale = 5.9604644775390625e-8f;  // 2^-24, smallest positive fp16
inline constexpr float kMaxScale = 65504.0f;                // largest finite fp16

// Elementwise: the smallest fp16 value >= s, clamped to [kMinScale, kMaxScale]. float32 in, out.
at::Tensor round_scale_up_fp16(const at::Tensor& s);
// Elementwise: nearest fp16 value, clamped to [kMinScale, kMaxScale].
at::Tensor round_scale_nearest_fp16(const at::Tensor& s);

struct GroupParams {
    at::Tensor scale;  // float32 [R, G]
    at::Tensor zero;   // float32 [R, G], integer valued
};

// x: float32 [R, G, L] (columns past the matrix end padded with 0, which never changes the range
// because 0 is always inside it; `valid` [1, G, L] bool marks real columns for the constant-group
// test, undefined when there is no padding). maxq: float32 [R, G]. weight: broadcastable to
// [R, G, L], undefined for plain squared error. grid: shrink factors in (0, 1]; 1.0 is always tried
// first and a candidate replaces it only when strictly better, so the search is never worse than
// plain min/max on the weighted objective.
GroupParams search_group_params(const at::Tensor& x, const at::Tensor& maxq,
                                const at::Tensor& weight, const at::Tensor& valid,
                                const std::vector<float>& grid);

// float32 codes; all arguments broadcast.
at::Tensor quantize_codes(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& zero,
                          const at::Tensor& maxq);
at::Tensor dequantize_codes(const at::Tensor& q, const at::Tensor& scale, const at::Tensor& zero);

// Throws InputError unless every factor is in (0, 1]; returns the grid with 1.0 first.
std::vector<float> checked_grid(const std::vector<float>& grid);

}  // namespace scalebits::quant::detail
