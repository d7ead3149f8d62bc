#include "core/alloc/bench_solver.h"

#include "core/alloc/cost_model.h"
#include "core/alloc/ladder.h"
#include "core/util/error.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <random>
#include <vector>

namespace scalebits {

namespace {

using Clock = std::chrono::steady_clock;

double us_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

double cpu_us(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return double(ts.tv_sec) * 1e6 + double(ts.tv_nsec) / 1e3;
}

double percentile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    const std::size_t i = std::min(v.size() - 1, std::size_t(q * double(v.size() - 1) + 0.5));
    return v[i];
}

}  // namespace

BenchSolverResult bench_solver(std::int64_t tiles, int resolves, std::uint64_t seed) {
    if (tiles < 1) throw InputError("bench-solver needs at least one tile, got " + std::to_string(tiles));
    if (tiles > 100'000'000) throw InputError("bench-solver: " + std::to_string(tiles) + " tiles is more than 100 million");
    if (resolves < 1) throw InputError("bench-solver needs at least one re-solve");

    ItemTable t;
    t.widths = {2, 3, 4, 8};
    const std::size_t W = t.widths.size();
    ItemClass cl;
    cl.lo = 0;
    cl.hi = int(W) - 1;
    for (int b : t.widths) cl.cost_bits.push_back(8 * tile_bytes_with_header(128, 128, 128, b));
    t.classes.push_back(cl);
    t.item_class.assign(std::size_t(tiles), 0);
    t.S.resize(std::size_t(tiles) * W);

    // S(t, b) = a_t * 4^-b (quantization noise power) times multiplicative noise; a_t log-normal
    // because sensitivity is heavy tailed across tiles. The noise makes a share of tiles non-convex.
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> scale(0.0, 1.5);
    std::uniform_real_distribution<double> noise(0.7, 1.3);
    for (std::size_t i = 0; i < std::size_t(tiles); ++i) {
        const double a = std::exp(scale(rng));
        for (std::size_t k = 0; k < W; ++k) t.S[i * W + k] = a * std::ldexp(1.0, -2 * t.widths[k]) * noise(rng);
    }

    BenchSolverResult r;
    r.tiles = tiles;
    r.resolves = resolves;
    const double c0 = cpu_us(CLOCK_PROCESS_CPUTIME_ID);
    const auto t0 = Clock::now();
    const Ladder ladder = Ladder::build(t.view());
    r.precompute_ms = us_since(t0) / 1000.0;
    r.precompute_cpu_ms = (cpu_us(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1000.0;
    r.ladder_steps = ladder.size();
    t.S = {};  // the tables are not needed for re-solving

    const std::int64_t lo = ladder.min_bits(), hi = ladder.max_bits();
    std::uniform_int_distribution<std::int64_t> budget(lo, hi);
    std::vector<std::uint8_t> widths(static_cast<std::size_t>(tiles));
    std::vector<double> times, cpu;
    times.reserve(std::size_t(resolves));
    cpu.reserve(std::size_t(resolves));
    std::uint64_t checksum = 0;  // keeps the writes observable
    for (int i = 0; i < resolves; ++i) {
        const std::int64_t b = budget(rng);
        const double c = cpu_us(CLOCK_THREAD_CPUTIME_ID);
        const auto s = Clock::now();
        const std::size_t p = ladder.prefix_for(b);
        ladder.write_widths(p, widths.data());
        times.push_back(us_since(s));
        cpu.push_back(cpu_us(CLOCK_THREAD_CPUTIME_ID) - c);
        checksum += widths[std::size_t(b) % widths.size()];
    }
    r.resolve_median_us = percentile(times, 0.5);
    r.resolve_p90_us = percentile(times, 0.9);
    r.resolve_max_us = *std::max_element(times.begin(), times.end());
    r.resolve_cpu_median_us = percentile(cpu, 0.5);

    // Slider: a random walk in steps of up to 0.01 bit per weight.
    Resolver resolver(ladder);
    const std::int64_t step = std::max<std::int64_t>(1, std::int64_t(0.01 * 128 * 128 * double(tiles)));
    std::uniform_int_distribution<std::int64_t> move(-step, step);
    std::int64_t cur = (lo + hi) / 2;
    times.clear();
    for (int i = 0; i < resolves; ++i) {
        cur = std::clamp(cur + move(rng), lo, hi);
        const auto s = Clock::now();
        resolver.resolve(cur);
        times.push_back(us_since(s));
        checksum += resolver.widths()[std::size_t(cur) % widths.size()];
    }
    r.slider_median_us = percentile(times, 0.5);
    r.slider_p90_us = percentile(times, 0.9);
    r.slider_max_us = *std::max_element(times.begin(), times.end());
    if (checksum == 0) r.resolves = resolves;  // never true (widths >= 2); stops the optimizer dropping work
    return r;
}

}  // namespace scalebits
