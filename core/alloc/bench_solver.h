#pragma once
// bench-solver: how fast the ladder precomputes and re-solves, on synthetic tables of N tiles of
// 128 x 128 weights, group 128, widths {2, 3, 4, 8} (costs from the real cost model; S decreasing in
// b with noise, so some tiles are not convex and the hull matters). The CLI prints the result as JSON.
#include <cstdint>

namespace scalebits {

struct BenchSolverResult {
    std::int64_t tiles = 0;
    std::size_t ladder_steps = 0;
    double precompute_ms = 0;       // Ladder::build (hulls, sort, prefix sums, width tables), wall clock
    double precompute_cpu_ms = 0;   // the same, CPU time of the process (both threads): shows what a
                                    // loaded machine adds to the wall clock
    int resolves = 0;
    // Re-solve from scratch for random budgets: binary search + all widths written out.
    double resolve_median_us = 0;
    double resolve_p90_us = 0;
    double resolve_max_us = 0;
    double resolve_cpu_median_us = 0;  // median CPU time of the solving thread
    // Slider-like moves (budget changes by up to 0.01 bit per weight) through the incremental Resolver.
    double slider_median_us = 0;
    double slider_p90_us = 0;
    double slider_max_us = 0;
};

// Throws InputError for tiles < 1 or resolves < 1. Deterministic for a given seed.
BenchSolverResult bench_solver(std::int64_t tiles, int resolves = 1000, std::uint64_t seed = 1);

}  // namespace scalebits
