#include "core/analysis/synthetic.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>

#include "core/model/llama.h"
#include "core/util/error.h"

namespace scalebits::analysis {
namespace {

// Pareto(alpha) factors: most channels near 1, a few tens to hundreds of times larger.
std::vector<double> channel_factors(std::int64_t n, double alpha, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(1e-12, 1.0);
    std::vector<double> f(static_cast<std::size_t>(n));
    for (auto& x : f) x = std::pow(u(rng), -1.0 / alpha);
    return f;
}

// Sum of the factors of each run of `tile` channels (edge tile shorter), in the given channel order.
std::vector<double> tile_sums(const std::vector<double>& factors, std::int64_t tile) {
    const auto n = static_cast<std::int64_t>(factors.size());
    std::vector<double> sums(static_cast<std::size_t>((n + tile - 1) / tile), 0.0);
    for (std::int64_t i = 0; i < n; ++i) sums[static_cast<std::size_t>(i / tile)] += factors[static_cast<std::size_t>(i)];
    return sums;
}

// Share of the mass held by the heaviest 10% of tiles. Local rather than analysis.h's top_share so the
// generator does not depend on the analysis module's sources.
double top10_share(std::vector<double> mass) {
    const double total = std::accumulate(mass.begin(), mass.end(), 0.0);
    if (mass.empty() || total <= 0.0) return 0.0;
    const auto k = std::max<std::size_t>(1, mass.size() / 10);
    std::nth_element(mass.begin(), mass.begin() + static_cast<std::ptrdiff_t>(k - 1), mass.end(), std::greater<>());
    return std::accumulate(mass.begin(), mass.begin() + static_cast<std::ptrdiff_t>(k), 0.0) / total;
}

std::vector<double> sorted_desc(std::vector<double> v) {
    std::sort(v.begin(), v.end(), std::greater<>());
    return v;
}

MatrixAnalysis make_matrix(int layer, model::LinearKind kind, std::int64_t rows, std::int64_t cols,
                           std::int64_t tile, const std::vector<int>& widths, std::mt19937_64& rng) {
    MatrixAnalysis m;
    m.name = model::linear_weight_name(layer, kind);
    m.layer = layer;
    m.kind = static_cast<int>(kind);
    m.grid = kernels::TileGrid::of(rows, cols, tile, tile, tile);

    // Matrices differ in overall sensitivity too: early layers and down_proj matter more, as on
    // real models, plus a random spread.
    std::lognormal_distribution<double> spread(0.0, 0.6);
    const double matrix_scale = spread(rng) * (kind == model::LinearKind::Down ? 3.0 : 1.0) *
                                (1.0 + 2.0 / (1.0 + layer));
    const auto row_f = channel_factors(rows, 1.6, rng);
    const auto col_f = channel_factors(cols, 1.3, rng);
    const auto rows_orig = tile_sums(row_f, tile), cols_orig = tile_sums(col_f, tile);
    const auto rows_re = tile_sums(sorted_desc(row_f), tile), cols_re = tile_sums(sorted_desc(col_f), tile);

    const auto n = static_cast<std::size_t>(m.tile_count());
    const std::size_t W = widths.size();
    m.fisher_original.resize(n);
    m.fisher_reordered.resize(n);
    m.cost_original.resize(n * W);
    m.cost_reordered.resize(n * W);
    std::lognormal_distribution<double> noise(0.0, 0.5);
    std::uniform_real_distribution<double> jitter(-0.15, 0.15);
    const double norm = matrix_scale * 1e-6 / double(tile * tile);
    const std::int64_t grid_rows = m.grid_rows(), grid_cols = m.grid_cols();
    for (std::int64_t r = 0; r < grid_rows; ++r) {
        for (std::int64_t c = 0; c < grid_cols; ++c) {
            const auto t = static_cast<std::size_t>(r * grid_cols + c);
            const double e = noise(rng);
            m.fisher_original[t] = norm * rows_orig[static_cast<std::size_t>(r)] * cols_orig[static_cast<std::size_t>(c)] * e;
            m.fisher_reordered[t] = norm * rows_re[static_cast<std::size_t>(r)] * cols_re[static_cast<std::size_t>(c)] * e;
            for (std::size_t k = 0; k < W; ++k) {
                // Jitter stays within +-15%, far less than the factor 4 per bit, so S keeps decreasing.
                const double shape = std::pow(4.0, -widths[k]) * (1.0 + jitter(rng));
                m.cost_original[t * W + k] = m.fisher_original[t] * shape;
                m.cost_reordered[t * W + k] = m.fisher_reordered[t] * shape;
            }
        }
    }
    m.fisher_total = std::accumulate(m.fisher_original.begin(), m.fisher_original.end(), 0.0);
    m.top10_share_before = top10_share(m.fisher_original);
    m.top10_share_after = top10_share(m.fisher_reordered);
    return m;
}

}  // namespace

SyntheticOptions smollm2_like(std::uint64_t seed) {
    SyntheticOptions o;
    o.config.dim = 576;
    o.config.hidden_dim = 1536;
    o.config.n_layers = 30;
    o.config.n_heads = 9;
    o.config.n_kv_heads = 3;
    o.config.head_dim = 64;
    o.config.vocab_size = 49152;
    o.config.tie_word_embeddings = true;
    o.seed = seed;
    return o;
}

SyntheticOptions llama_like_for_tiles(std::int64_t tiles, std::uint64_t seed) {
    if (tiles <= 0) throw InputError("synthetic analysis: the tile count must be positive");
    SyntheticOptions o;
    o.config.dim = 4096;
    o.config.hidden_dim = 14336;
    o.config.n_heads = 32;
    o.config.n_kv_heads = 8;
    o.config.head_dim = 128;
    o.config.vocab_size = 128256;
    constexpr std::int64_t per_layer = 13312;  // q, o 32x32; k, v 8x32; gate, up, down 112x32
    o.config.n_layers = (tiles + per_layer - 1) / per_layer;
    o.seed = seed;
    return o;
}

Analysis make_synthetic_analysis(const SyntheticOptions& options) {
    const auto& c = options.config;
    if (c.dim <= 0 || c.hidden_dim <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 ||
        c.head_dim <= 0 || options.tile <= 0)
        throw InputError("synthetic analysis: every size must be positive");
    Analysis a;
    a.model_path = "synthetic";
    a.config = c;

    a.options.tile_rows = a.options.tile_cols = a.options.group = options.tile;
    a.options.seed = options.seed;
    a.widths = a.options.widths;
    std::mt19937_64 rng(options.seed);
    const std::int64_t q = c.n_heads * c.head_dim, kv = c.n_kv_heads * c.head_dim;
    for (int l = 0; l < c.n_layers; ++l) {
        using K = model::LinearKind;
        const std::pair<K, std::pair<std::int64_t, std::int64_t>> shapes[] = {
            {K::Q, {q, c.dim}},          {K::K, {kv, c.dim}},         {K::V, {kv, c.dim}},
            {K::O, {c.dim, q}},          {K::Gate, {c.hidden_dim, c.dim}}, {K::Up, {c.hidden_dim, c.dim}},
            {K::Down, {c.dim, c.hidden_dim}}};
        for (const auto& [kind, shape] : shapes)
            a.matrices.push_back(make_matrix(l, kind, shape.first, shape.second, options.tile, a.widths, rng));
    }
    // Embedding (and an untied head) stay at 16 bits in the export; norms are negligible here.
    a.unquantized_bytes = c.vocab_size * c.dim * 2 * (c.tie_word_embeddings ? 1 : 2);
    a.calib_loss = 2.5;
    return a;
}

}  // namespace scalebits::analysis
