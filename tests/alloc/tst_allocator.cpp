// Tile problems of real shapes (edge tiles, two group sizes, constraints): every method fits its
// budget, the bytes it reports equal the dry-run size estimate, and pinned/min/max widths hold.
#include "core/alloc/allocator.h"
#include "core/alloc/bench_solver.h"
#include "core/alloc/group_alloc.h"
#include "core/alloc/methods.h"
#include "core/alloc/uniform.h"
#include "core/util/error.h"

#include <QtTest>

#include <cmath>
#include <random>
#include <set>

using namespace scalebits;

namespace {

// A small llama-like model: widths {2,3,4,8}; "emb" pinned at 8, "q" at least 3 bits, "down" at most
// 4 bits; shapes that leave edge tiles; group 64 where 128 does not divide the columns.
TileProblem make_problem(std::uint64_t seed) {
    TileProblem p;
    p.matrices = {
        {{300, 200, 128, 128, 64}, "emb", 0, 0, 8},
        {{256, 200, 128, 128, 64}, "q", 3, 0, 0},
        {{128, 200, 128, 128, 64}, "k"},
        {{520, 256, 128, 128, 128}, "up"},
        {{256, 520, 128, 128, 128}, "down", 0, 4, 0},
        {{200, 200, 128, 128, 64}, "o"},
    };
    p.overhead_bytes = 12345;
    std::mt19937_64 rng(seed);
    std::lognormal_distribution<double> scale(0.0, 1.5);
    std::uniform_real_distribution<double> noise(0.6, 1.4);
    for (std::int64_t t = 0; t < p.tile_count(); ++t) {
        const double a = scale(rng);
        for (int b : p.widths) p.S.push_back(a * std::ldexp(1.0, -2 * b) * noise(rng));
    }
    return p;
}

void check_constraints(const TileProblem& p, const TileAllocation& a) {
    QCOMPARE(std::int64_t(a.widths.size()), p.tile_count());
    for (const TilePin& pin : p.tile_pins) QCOMPARE(int(a.widths[std::size_t(pin.tile)]), pin.bits);
    std::size_t t = 0;
    auto pin = p.tile_pins.begin();
    for (const MatrixSpec& m : p.matrices) {
        for (std::int64_t i = 0; i < m.tile_count(); ++i, ++t) {
            if (pin != p.tile_pins.end() && std::size_t(pin->tile) == t) {
                ++pin;  // a tile pin overrides the matrix's pin and limits
                continue;
            }
            const int b = a.widths[t];
            if (m.pinned_bits) QCOMPARE(b, m.pinned_bits);
            if (m.min_bits) QVERIFY(b >= m.min_bits);
            if (m.max_bits) QVERIFY(b <= m.max_bits);
        }
    }
}

void check_fits(const TileProblem& p, const TileAllocation& a) {
    QVERIFY2(a.bits <= a.budget_bits, qPrintable(QStringLiteral("%1: %2 bits over a budget of %3").arg(QString::fromStdString(a.method)).arg(a.bits).arg(a.budget_bits)));
    // The bytes the allocator reports are the bytes of the dry run on its widths.
    const SizeEstimate e = estimate_size(p.matrices, a.widths, p.overhead_bytes);
    QCOMPARE(e.quantized_bytes, a.quantized_bytes);
    QCOMPARE(e.total_bytes, a.total_bytes);
    QCOMPARE(e.quantized_bytes * 8, a.bits);
    const double loss = predicted_loss(p, a.widths);
    QVERIFY(std::abs(loss - a.predicted_loss) <= 1e-9 * std::max(1.0, loss));
    check_constraints(p, a);
}

}  // namespace

class TestAllocator : public QObject {
    Q_OBJECT
private slots:
    void everyMethodFits_data() {
        QTest::addColumn<double>("bits");
        // The minimum is 3.19 bits per weight (a pinned 8-bit matrix, headers of small tiles).
        for (double b : {3.2, 3.5, 4.0, 5.0, 6.5, 9.0}) QTest::newRow(qPrintable(QString::number(b))) << b;
    }
    void everyMethodFits() {
        QFETCH(double, bits);
        const TileProblem p = make_problem(1);
        for (AllocMethod m : {AllocMethod::ScaleBits, AllocMethod::Layer, AllocMethod::Uniform, AllocMethod::UniformMix}) {
            const TileAllocation a = allocate_tiles(p, Budget::bits_per_weight(bits), m);
            check_fits(p, a);
            QVERIFY(a.avg_bits <= bits);
        }
        // Byte budgets of the whole file, overhead included.
        const TileAllocator alloc(p);
        const double bytes = 12345 + bits * double(p.quantized_weights()) / 8;
        const TileAllocation a = alloc.solve(Budget::bytes(bytes));
        check_fits(p, a);
        QVERIFY(double(a.total_bytes) <= bytes);
    }

    void ladderBeatsBaselinesAtBreakpoints() {
        // At a budget equal to a tile-ladder breakpoint the tile allocation is optimal over every
        // allocation that fits, layer-wise and uniform ones included.
        const TileProblem p = make_problem(2);
        const TileAllocator tiles(p);
        const LayerAllocator layers(p);
        for (std::size_t q = 0; q <= tiles.ladder().size(); q += 7) {
            const Budget b = Budget::bytes(double(tiles.ladder().bits_at(q) / 8 + p.overhead_bytes));
            const TileAllocation t = tiles.solve(b);
            QCOMPARE(t.prefix, q);
            const TileAllocation l = layers.solve(b);
            check_fits(p, l);
            QVERIFY(t.predicted_loss <= l.predicted_loss * (1 + 1e-12));
            try {
                const TileAllocation m = uniform_mix(p, b);
                QVERIFY(t.predicted_loss <= m.predicted_loss * (1 + 1e-12));
                const TileAllocation u = best_uniform(p, b);
                QVERIFY(m.predicted_loss <= u.predicted_loss * (1 + 1e-12));  // the mix starts from it
            } catch (const InputError&) {
                // Below the narrowest uniform allocation (tiles can go lower where S allows).
            }
        }
    }

    void layerMethodIsUniformPerMatrix() {
        const TileProblem p = make_problem(3);
        const TileAllocation a = LayerAllocator(p).solve(Budget::bits_per_weight(3.3));
        check_fits(p, a);
        std::size_t t = 0;
        for (const MatrixSpec& m : p.matrices) {
            const int first = a.widths[t];
            for (std::int64_t i = 0; i < m.tile_count(); ++i, ++t) QCOMPARE(int(a.widths[t]), first);
        }
    }

    void uniformRespectsConstraints() {
        const TileProblem p = make_problem(4);
        const TileAllocation a = uniform_allocation(p, 2);
        check_constraints(p, a);
        const TileAllocation b = uniform_allocation(p, 8);
        check_constraints(p, b);
        QVERIFY_THROWS_EXCEPTION(InputError, uniform_allocation(p, 5));
    }

    void infeasibleAndBadConstraints() {
        TileProblem p = make_problem(5);
        const TileAllocator alloc(p);
        // "emb" is pinned at 8 bits, so 2 bits per weight is below the minimum.
        QVERIFY(alloc.min_avg_bits() > 2.0);
        try {
            alloc.solve(Budget::bits_per_weight(2.0));
            QFAIL("a budget below the minimum was accepted");
        } catch (const InputError& e) {
            // The message gives the minimum in the budget's own unit.
            QVERIFY2(QString::fromStdString(e.what()).contains(QStringLiteral("below the minimum of 3.19")), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(InputError, best_uniform(p, Budget::bits_per_weight(2.0)));
        QVERIFY_THROWS_EXCEPTION(InputError, LayerAllocator(p).solve(Budget::bits_per_weight(2.0)));
        QVERIFY_THROWS_EXCEPTION(InputError, alloc.solve(Budget::bytes(100)));  // below the overhead
        p.matrices[0].pinned_bits = 5;  // not a candidate width
        QVERIFY_THROWS_EXCEPTION(InputError, TileAllocator{p});
        p.matrices[0].pinned_bits = 0;
        p.matrices[0].min_bits = 5;
        p.matrices[0].max_bits = 7;  // no candidate in 5..7
        QVERIFY_THROWS_EXCEPTION(InputError, TileAllocator{p});
        p = make_problem(5);
        p.S.pop_back();
        QVERIFY_THROWS_EXCEPTION(InputError, TileAllocator{p});
    }

    // Tile pins hold in every tile method, override the matrix's pin and limits, count in the bytes
    // and the predicted loss (check_fits recomputes both from the widths), and leave the layer
    // method one width per matrix elsewhere.
    void tilePinsHoldInEveryMethod() {
        TileProblem p = make_problem(6);
        // Tile indices: emb 0..5 (pinned at 8), q 6..9 (min 3), k 10..11, up 12..23, down 24..31 (max 4), o 32..35.
        p.tile_pins = {{3, 2}, {7, 2}, {10, 8}, {25, 8}, {33, 3}};
        const TileProblem free = make_problem(6);
        for (double bits : {3.6, 4.0, 5.5}) {  // the pins at 8 raise the minimum to 3.51
            for (AllocMethod m : {AllocMethod::ScaleBits, AllocMethod::Layer, AllocMethod::Uniform, AllocMethod::UniformMix}) {
                const TileAllocation a = allocate_tiles(p, Budget::bits_per_weight(bits), m);
                check_fits(p, a);
                if (m == AllocMethod::Layer) {
                    std::size_t t = 0;
                    for (const MatrixSpec& ms : p.matrices) {
                        std::set<int> seen;
                        for (std::int64_t i = 0; i < ms.tile_count(); ++i, ++t) {
                            const bool pinned = std::any_of(p.tile_pins.begin(), p.tile_pins.end(),
                                                            [t](const TilePin& q) { return std::size_t(q.tile) == t; });
                            if (!pinned) seen.insert(a.widths[t]);
                        }
                        QVERIFY(seen.size() <= 1);
                    }
                }
            }
            // The ladder's pinned tiles differ from the free solution's where the free one chose otherwise.
            const TileAllocation a = allocate_tiles(p, Budget::bits_per_weight(bits), AllocMethod::ScaleBits);
            const TileAllocation f = allocate_tiles(free, Budget::bits_per_weight(bits), AllocMethod::ScaleBits);
            QCOMPARE(int(f.widths[3]), 8);  // "emb" is pinned at 8 as a matrix
            QCOMPARE(int(a.widths[3]), 2);
        }
        // Bad pins: out of range, not a candidate, out of order.
        p.tile_pins = {{36, 4}};
        QVERIFY_THROWS_EXCEPTION(InputError, TileAllocator{p});
        p.tile_pins = {{3, 5}};
        QVERIFY_THROWS_EXCEPTION(InputError, TileAllocator{p});
        p.tile_pins = {{7, 2}, {3, 2}};
        QVERIFY_THROWS_EXCEPTION(InputError, LayerAllocator{p});
    }

    // Pins on the shared pin-free ladder give what a ladder built with the pinned tiles' classes
    // gives (the allocator before pins became an overlay): the same widths and bits at every budget,
    // the loss up to rounding; re-pinning an allocator, or a layer allocator, equals building it
    // with those pins.
    void pinsOnTheSharedLadderEqualAPinnedLadder() {
        std::mt19937_64 rng(11);
        for (std::uint64_t seed : {7, 8, 9}) {
            TileProblem p = make_problem(seed);
            const TileProblem free = p;
            const std::int64_t n = p.tile_count();
            // Random pins at any candidate, also in the matrix pinned at 8 and outside the limits.
            std::set<std::int64_t> tiles;
            while (std::int64_t(tiles.size()) < 4 + std::int64_t(seed % 3)) tiles.insert(std::int64_t(rng() % std::uint64_t(n)));
            for (std::int64_t t : tiles) p.tile_pins.push_back({t, p.widths[rng() % p.widths.size()]});

            const ItemTable pinned_classes = tile_classes(p);
            ItemView view = pinned_classes.view();
            view.S = p.S;
            const Ladder reference = Ladder::build(view);
            const TileAllocator built(p);
            const TileAllocator repinned = TileAllocator(free).with_pins(p, p.tile_pins);
            const TileAllocator via_other = TileAllocator(p).with_pins(p, {{0, 2}, {n - 1, 8}}).with_pins(p, p.tile_pins);
            QCOMPARE(built.ladder().size(), TileAllocator(free).ladder().size());  // the ladder stays pin-free
            const double w = double(p.quantized_weights());
            // The range's ends are reachable budgets (an average that rounds one bit short is not).
            QCOMPARE(built.solve(Budget::bits_per_weight(built.min_avg_bits())).bits, reference.min_bits());
            QCOMPARE(built.solve(Budget::bits_per_weight(built.max_avg_bits())).bits, reference.max_bits());
            QVERIFY(std::abs(built.min_avg_bits() - double(reference.min_bits()) / w) < 1e-12);
            std::vector<std::int64_t> budgets;
            for (std::size_t q = 0; q <= reference.size(); q += 3) budgets.push_back(reference.bits_at(q));
            for (int i = 0; i < 20; ++i)
                budgets.push_back(reference.min_bits() +
                                  std::int64_t(rng() % std::uint64_t(reference.max_bits() - reference.min_bits() + 1)));
            for (std::int64_t bits : budgets) {
                const Budget b = Budget::bytes(double(bits / 8 + p.overhead_bytes));
                const std::int64_t allowed = built.budget_bits(b);
                const std::size_t q = reference.prefix_for(allowed);
                std::vector<std::uint8_t> want(std::size_t(reference.items()));
                reference.write_widths(q, want.data());
                const TileAllocation a = built.solve(b);
                QCOMPARE(a.widths, want);
                QCOMPARE(a.bits, reference.bits_at(q));
                QCOMPARE(a.prefix, q);
                QCOMPARE(a.ladder_size, reference.size());
                QVERIFY(std::abs(a.predicted_loss - reference.loss_at(q)) <= 1e-9 * (1 + reference.loss_at(q)));
                for (const TileAllocator* other : {&repinned, &via_other}) {
                    const TileAllocation o = other->solve(b);
                    QCOMPARE(o.widths, a.widths);
                    QCOMPARE(o.bits, a.bits);
                    QCOMPARE(o.predicted_loss, a.predicted_loss);
                }
                check_fits(p, a);
            }
            const LayerAllocator layer(p);
            const LayerAllocator layer_repinned = LayerAllocator(free).with_pins(p, p.tile_pins);
            QCOMPARE(layer_repinned.matrix_items().S, layer.matrix_items().S);
            for (std::size_t q = 0; q <= layer.ladder().size(); q += 2) {
                const Budget b = Budget::bytes(double(layer.ladder().bits_at(q) / 8 + p.overhead_bytes));
                const TileAllocation a = layer.solve(b);
                const TileAllocation o = layer_repinned.solve(b);
                QCOMPARE(o.widths, a.widths);
                QCOMPARE(o.bits, a.bits);
                QCOMPARE(o.predicted_loss, a.predicted_loss);
            }
            // Bad pins are refused as in a problem.
            QVERIFY_THROWS_EXCEPTION(InputError, built.with_pins(p, {{n, 4}}));
            QVERIFY_THROWS_EXCEPTION(InputError, layer.with_pins(p, {{1, 5}}));
        }
    }

    // The same at a size where the ladder is built in two halves (2^17 items and more) and its width
    // tables hold blocks of several steps: steps_of against a plain scan of the ladder, and the
    // overlay against a ladder built with the pinned tiles' classes.
    void pinsOnALargeLadder() {
        TileProblem p;
        p.matrices = {{{4096, 6000, 16, 16, 8}, "a"}, {{3000, 4096, 16, 16, 16}, "b", 3, 0, 0}};
        std::mt19937_64 rng(21);
        std::lognormal_distribution<double> scale(0.0, 1.5);
        for (std::int64_t t = 0; t < p.tile_count(); ++t) {
            const double a = scale(rng);
            for (int b : p.widths) p.S.push_back(a * std::ldexp(1.0, -2 * b));
        }
        QVERIFY(p.tile_count() >= (1 << 17));
        const TileAllocator free(p);
        const Ladder& L = free.ladder();
        QVERIFY(L.size() >= 65535);  // blocks of more than one step
        std::vector<std::vector<std::size_t>> scan(L.items());
        for (std::size_t q = 0; q < L.size(); ++q) scan[L.steps()[q].item].push_back(q);
        std::set<std::int64_t> tiles;
        while (tiles.size() < 40) tiles.insert(std::int64_t(rng() % std::uint64_t(p.tile_count())));
        for (std::int64_t t : tiles) {
            QCOMPARE(L.steps_of(std::size_t(t)), scan[std::size_t(t)]);
            p.tile_pins.push_back({t, p.widths[rng() % p.widths.size()]});
        }
        const ItemTable pinned_classes = tile_classes(p);
        ItemView view = pinned_classes.view();
        view.S = p.S;
        const Ladder reference = Ladder::build(view);
        const TileAllocator pinned = free.with_pins(p, p.tile_pins);
        for (int i = 0; i <= 10; ++i) {
            const std::size_t q = reference.size() * std::size_t(i) / 10;
            const Budget b = Budget::bytes(double(reference.bits_at(q) / 8 + p.overhead_bytes));
            const std::size_t want_prefix = reference.prefix_for(pinned.budget_bits(b));
            std::vector<std::uint8_t> want(reference.items());
            reference.write_widths(want_prefix, want.data());
            const TileAllocation a = pinned.solve(b);
            QCOMPARE(a.widths, want);
            QCOMPARE(a.bits, reference.bits_at(want_prefix));
            QCOMPARE(a.prefix, want_prefix);
        }
    }

    // A slider's end must be a budget that reaches it: bits / weights can round to an average whose
    // floored budget is one bit short.
    void averageWidthsReachTheirBits() {
        std::mt19937_64 rng(5);
        int short_by_division = 0;
        for (int i = 0; i < 20000; ++i) {
            const std::int64_t w = 1 + std::int64_t(rng() % 2000000000ULL), bits = std::int64_t(rng() % std::uint64_t(9 * w));
            const double m = avg_bits_reaching(bits, w);
            QVERIFY(budget_to_bits(Budget::bits_per_weight(m), w, 0) >= bits);
            QVERIFY(m >= double(bits) / double(w) && m - double(bits) / double(w) <= 1e-14 * (1 + m));
            if (std::floor(double(bits) / double(w) * double(w)) < double(bits)) ++short_by_division;
        }
        QVERIFY2(short_by_division > 0, "the plain division never fell short: the case is not exercised");
    }

    void methodNames() {
        QCOMPARE(parse_alloc_method("tile-noreorder"), AllocMethod::TileNoReorder);
        QCOMPARE(QString::fromLatin1(alloc_method_name(parse_alloc_method("uniform-mix"))), QStringLiteral("uniform-mix"));
        QVERIFY_THROWS_EXCEPTION(InputError, parse_alloc_method("greedy"));
        QVERIFY(!is_runtime_friendly(AllocMethod::Group));
        QVERIFY_THROWS_EXCEPTION(InputError, allocate_tiles(make_problem(1), Budget::bits_per_weight(3), AllocMethod::Group));
    }

    void histogramCountsWeights() {
        const TileProblem p = make_problem(6);
        const TileAllocation a = TileAllocator(p).solve(Budget::bits_per_weight(3.2));
        const auto h = weights_per_width(p.matrices, a.widths);
        for (std::size_t m = 0; m < p.matrices.size(); ++m) {
            std::int64_t sum = 0;
            for (std::int64_t c : h[m]) sum += c;
            QCOMPARE(sum, p.matrices[m].weights());
        }
        QCOMPARE(h[0][8], p.matrices[0].weights());  // pinned
    }

    void groupReferenceFits() {
        GroupProblem g;
        const TileProblem tp = make_problem(7);
        g.matrices = tp.matrices;
        g.overhead_bytes = tp.overhead_bytes;
        std::mt19937_64 rng(7);
        std::lognormal_distribution<double> scale(0.0, 1.5);
        for (std::int64_t i = 0; i < g.group_count(); ++i) {
            const double a = scale(rng);
            for (int b : g.widths) g.S.push_back(a * std::ldexp(1.0, -2 * b));
        }
        const GroupAllocator alloc(g);
        for (double bits : {3.3, 3.6, 4.5}) {
            const GroupAllocation a = alloc.solve(Budget::bits_per_weight(bits));
            QVERIFY(a.bits <= a.budget_bits);
            QVERIFY(a.avg_bits <= bits);
            std::size_t i = 0;
            std::int64_t bits_sum = 0;
            for (const MatrixSpec& m : g.matrices) {
                for (std::int64_t r = 0; r < m.rows(); ++r)
                    for (std::int64_t j = 0; j < m.groups_per_row(); ++j, ++i) {
                        const int b = a.widths[i];
                        if (m.pinned_bits) QCOMPARE(b, m.pinned_bits);
                        if (m.min_bits) QVERIFY(b >= m.min_bits);
                        if (m.max_bits) QVERIFY(b <= m.max_bits);
                        bits_sum += group_bits(std::min(m.group(), m.cols() - j * m.group()), b);
                    }
            }
            QCOMPARE(bits_sum, a.bits);
        }
        g.S.pop_back();
        QVERIFY_THROWS_EXCEPTION(InputError, GroupAllocator{g});
    }

    void benchSolverRuns() {
        const BenchSolverResult r = bench_solver(20000, 50, 3);
        QCOMPARE(r.tiles, qint64(20000));
        QVERIFY(r.ladder_steps > 20000 && r.ladder_steps <= 60000);
        // Times are the benchmark's output (bench-solver --json), not bounds: only that they were
        // measured and that the order statistics are ordered.
        QVERIFY(std::isfinite(r.precompute_ms) && r.precompute_ms >= 0);
        QVERIFY(r.resolve_median_us >= 0 && r.resolve_median_us <= r.resolve_p90_us && r.resolve_p90_us <= r.resolve_max_us);
        QVERIFY(std::isfinite(r.slider_median_us) && r.slider_median_us >= 0);
        QVERIFY_THROWS_EXCEPTION(InputError, bench_solver(0));
    }
};

QTEST_APPLESS_MAIN(TestAllocator)
#include "tst_allocator.moc"
