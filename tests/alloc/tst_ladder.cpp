// The ladder against independent references: brute force over every width combination (optimal at
// every ladder breakpoint), the textbook greedy run from scratch (same widths for any budget), and the
// width writers against each other (from scratch, incremental, applying steps one by one).
#include "core/alloc/ladder.h"
#include "core/alloc/reference_greedy.h"
#include "core/alloc/cost_model.h"
#include "core/util/error.h"

#include <QtTest>

#include <cmath>
#include <random>

using namespace scalebits;

namespace {

enum class Shape { Convex, Noisy, Arbitrary };

// n items over widths {2,3,4,8} with a few tile shapes (real packed costs), S per shape kind:
// Convex: a * 4^-b, convex in cost; Noisy: the same times noise in [0.5,1.5] (sometimes not convex
// or not decreasing); Arbitrary: uniform random, no structure at all.
ItemTable random_table(std::mt19937_64& rng, std::size_t n, Shape shape, bool constraints = false) {
    ItemTable t;
    t.widths = {2, 3, 4, 8};
    const std::int64_t shapes[][3] = {{128, 128, 128}, {44, 64, 64}, {17, 40, 32}, {128, 72, 64}};
    for (const auto& s : shapes) {
        for (int c = 0; c < (constraints ? 3 : 1); ++c) {
            ItemClass cl;
            for (int b : t.widths) cl.cost_bits.push_back(8 * tile_bytes_with_header(s[0], s[1], s[2], b));
            cl.lo = c == 1 ? 1 : 0;       // "min 3 bits"
            cl.hi = c == 2 ? 2 : 3;       // "max 4 bits"
            if (c == 2) cl.lo = cl.hi = 2;  // pinned at 4
            t.classes.push_back(cl);
        }
    }
    std::uniform_int_distribution<std::uint32_t> cls(0, std::uint32_t(t.classes.size() - 1));
    std::lognormal_distribution<double> scale(0.0, 1.0);
    std::uniform_real_distribution<double> noise(0.5, 1.5), any(0.0, 1.0);
    for (std::size_t i = 0; i < n; ++i) {
        t.item_class.push_back(cls(rng));
        const double a = scale(rng);
        for (int b : t.widths) {
            double s = a * std::ldexp(1.0, -2 * b);
            if (shape == Shape::Noisy) s *= noise(rng);
            if (shape == Shape::Arbitrary) s = any(rng);
            t.S.push_back(s);
        }
    }
    return t;
}

struct Totals {
    std::int64_t bits = 0;
    double loss = 0;
};

Totals totals(const ItemTable& t, const std::vector<std::uint8_t>& widths) {
    Totals r;
    const std::size_t W = t.widths.size();
    for (std::size_t i = 0; i < widths.size(); ++i) {
        std::size_t k = 0;
        while (t.widths[k] != widths[i]) ++k;
        const ItemClass& c = t.classes[t.item_class[i]];
        r.bits += c.cost_bits[k];
        r.loss += t.S[i * W + k];
    }
    return r;
}

bool close(double a, double b) { return std::abs(a - b) <= 1e-9 * std::max({1.0, std::abs(a), std::abs(b)}); }

}  // namespace

class TestLadder : public QObject {
    Q_OBJECT
private slots:
    // Greedy is exact at its breakpoints: at a budget equal to the cost of a ladder prefix, no width
    // combination that fits has a lower predicted loss. This holds for any table (the prefix is a
    // Lagrangian minimizer over each item's hull), so non-convex tables are tested too.
    void bruteForceAtBreakpoints_data() {
        QTest::addColumn<int>("shape");
        QTest::addColumn<bool>("constraints");
        QTest::newRow("convex") << int(Shape::Convex) << false;
        QTest::newRow("noisy") << int(Shape::Noisy) << false;
        QTest::newRow("arbitrary") << int(Shape::Arbitrary) << false;
        QTest::newRow("convex+constraints") << int(Shape::Convex) << true;
        QTest::newRow("arbitrary+constraints") << int(Shape::Arbitrary) << true;
    }
    void bruteForceAtBreakpoints() {
        QFETCH(int, shape);
        QFETCH(bool, constraints);
        std::mt19937_64 rng(42 + shape);
        const std::size_t n = 5, W = 4;
        for (int trial = 0; trial < 40; ++trial) {
            const ItemTable t = random_table(rng, n, Shape(shape), constraints);
            const Ladder L = Ladder::build(t.view());
            // Every allowed combination: (cost, loss).
            std::vector<std::pair<std::int64_t, double>> all;
            for (std::size_t code = 0; code < 1024; ++code) {
                std::int64_t bits = 0;
                double loss = 0;
                bool ok = true;
                for (std::size_t i = 0, c = code; i < n; ++i, c /= W) {
                    const int k = int(c % W);
                    const ItemClass& cl = t.classes[t.item_class[i]];
                    if (k < cl.lo || k > cl.hi) ok = false;
                    bits += cl.cost_bits[std::size_t(k)];
                    loss += t.S[i * W + std::size_t(k)];
                }
                if (ok) all.emplace_back(bits, loss);
            }
            std::vector<std::uint8_t> widths(n);
            for (std::size_t p = 0; p <= L.size(); ++p) {
                double best = INFINITY;
                for (const auto& [bits, loss] : all)
                    if (bits <= L.bits_at(p)) best = std::min(best, loss);
                QVERIFY2(close(best, L.loss_at(p)), qPrintable(QStringLiteral("trial %1 prefix %2: brute %3, ladder %4")
                                                                   .arg(trial).arg(p).arg(best, 0, 'g', 17).arg(L.loss_at(p), 0, 'g', 17)));
                // The widths written out cost and lose exactly what the prefix sums say.
                L.write_widths(p, widths.data());
                const Totals tot = totals(t, widths);
                QCOMPARE(tot.bits, L.bits_at(p));
                QVERIFY(close(tot.loss, L.loss_at(p)));
            }
        }
    }

    // The prefix for any budget equals the textbook greedy re-run from scratch on the raw points.
    void prefixEqualsFreshGreedy_data() {
        QTest::addColumn<int>("shape");
        QTest::newRow("convex") << int(Shape::Convex);
        QTest::newRow("noisy") << int(Shape::Noisy);
        QTest::newRow("arbitrary") << int(Shape::Arbitrary);
    }
    void prefixEqualsFreshGreedy() {
        QFETCH(int, shape);
        std::mt19937_64 rng(7 + shape);
        for (int trial = 0; trial < 10; ++trial) {
            const ItemTable t = random_table(rng, 150, Shape(shape), trial % 2 == 1);
            const Ladder L = Ladder::build(t.view());
            std::uniform_int_distribution<std::int64_t> budget(L.min_bits(), L.max_bits() + 1000);
            std::vector<std::uint8_t> widths(t.item_class.size());
            for (int r = 0; r < 20; ++r) {
                const std::int64_t b = budget(rng);
                const GreedyResult g = reference_greedy(t.view(), b);
                const std::size_t p = L.prefix_for(b);
                QCOMPARE(p, g.steps);
                QCOMPARE(L.bits_at(p), g.bits);
                QVERIFY(L.bits_at(p) <= b);  // never above the budget
                QVERIFY(close(L.loss_at(p), g.loss));
                L.write_widths(p, widths.data());
                for (std::size_t i = 0; i < widths.size(); ++i) QCOMPARE(int(widths[i]), t.widths[g.index[i]]);
            }
        }
    }

    // Within an item the upgrades are taken in order, so every prefix is a valid allocation, and the
    // ladder's benefits never increase.
    void ladderIsConsistent() {
        std::mt19937_64 rng(3);
        const ItemTable t = random_table(rng, 2000, Shape::Noisy, true);
        const Ladder L = Ladder::build(t.view());
        std::vector<std::uint8_t> cur(t.item_class.size());
        for (std::size_t i = 0; i < cur.size(); ++i) {
            cur[i] = L.base_index(i);
            const ItemClass& c = t.classes[t.item_class[i]];
            QVERIFY(cur[i] >= c.lo && cur[i] <= c.hi);
        }
        for (std::size_t q = 0; q < L.size(); ++q) {
            const Ladder::Step& s = L.steps()[q];
            QCOMPARE(s.from, cur[s.item]);
            QVERIFY(s.to > s.from);
            QVERIFY(s.to <= t.classes[t.item_class[s.item]].hi);
            cur[s.item] = s.to;
            QVERIFY(L.bits_at(q + 1) > L.bits_at(q));
            QVERIFY(L.loss_at(q + 1) <= L.loss_at(q));
            if (q > 0) QVERIFY(L.benefit_at(q) <= L.benefit_at(q - 1) * (1 + 1e-9));
        }
    }

    // Scratch writing (coarse blocks + fine steps), the incremental resolver and applying every step
    // one by one agree for every kind of move, on a ladder long enough to use several blocks and the
    // two-thread build.
    void writersAgree() {
        std::mt19937_64 rng(11);
        const ItemTable t = random_table(rng, 300000, Shape::Noisy, true);
        const Ladder L = Ladder::build(t.view());
        QVERIFY(L.size() > 400000);  // blocks of 16 steps: the fine pass is exercised
        Resolver res(L);
        std::vector<std::uint8_t> scratch(L.items()), slow(L.items());
        std::uniform_int_distribution<std::size_t> anywhere(0, L.size());
        std::uniform_int_distribution<int> small(-3000, 3000);
        std::size_t p = 0;
        for (int r = 0; r < 30; ++r) {
            p = r % 3 == 0 ? anywhere(rng) : std::size_t(std::clamp<long long>((long long)p + small(rng), 0, (long long)L.size()));
            res.set_prefix(p);
            L.write_widths(p, scratch.data());
            for (std::size_t i = 0; i < slow.size(); ++i) slow[i] = std::uint8_t(t.widths[L.base_index(i)]);
            for (std::size_t q = 0; q < p; ++q) slow[L.steps()[q].item] = std::uint8_t(t.widths[L.steps()[q].to]);
            QVERIFY(scratch == slow);
            QVERIFY(res.widths() == slow);
        }
    }

    // Ties in benefit break by item, then by the item's own order, also across the two halves of the
    // two-thread build: with every item identical, the ladder is every item's first upgrade in item
    // order, then every item's second upgrade, and so on.
    void tiesBreakByItem() {
        ItemTable t;
        t.widths = {2, 3, 4, 8};
        t.classes.push_back({{8 * tile_bytes_with_header(128, 128, 128, 2), 8 * tile_bytes_with_header(128, 128, 128, 3),
                              8 * tile_bytes_with_header(128, 128, 128, 4), 8 * tile_bytes_with_header(128, 128, 128, 8)},
                             0, 3});
        const std::size_t n = 300000;  // above the two-thread threshold
        t.item_class.assign(n, 0);
        for (std::size_t i = 0; i < n; ++i) t.S.insert(t.S.end(), {1.0, 0.25, 0.0625, 0.0001});
        const Ladder L = Ladder::build(t.view());
        QCOMPARE(L.size(), 3 * n);
        for (std::size_t q = 0; q < L.size(); ++q) {
            QCOMPARE(std::size_t(L.steps()[q].item), q % n);
            QCOMPARE(std::size_t(L.steps()[q].to), q / n + 1);
        }
    }

    void infeasibleBudgetIsAnInputError() {
        std::mt19937_64 rng(1);
        const ItemTable t = random_table(rng, 10, Shape::Convex);
        const Ladder L = Ladder::build(t.view());
        QVERIFY_THROWS_EXCEPTION(InputError, L.prefix_for(L.min_bits() - 1));
        QCOMPARE(L.prefix_for(L.min_bits()), std::size_t(0));
        QCOMPARE(L.prefix_for(L.max_bits() * 2), L.size());
    }

    void badTablesAreInputErrors() {
        std::mt19937_64 rng(1);
        ItemTable t = random_table(rng, 10, Shape::Convex);
        t.S[5] = -1;
        QVERIFY_THROWS_EXCEPTION(InputError, Ladder::build(t.view()));
        t.S[5] = std::nan("");
        QVERIFY_THROWS_EXCEPTION(InputError, Ladder::build(t.view()));
        t.S[5] = 1;
        t.S.pop_back();
        QVERIFY_THROWS_EXCEPTION(InputError, Ladder::build(t.view()));
        t = random_table(rng, 10, Shape::Convex);
        t.classes[0].lo = 3;
        t.classes[0].hi = 2;
        QVERIFY_THROWS_EXCEPTION(InputError, Ladder::build(t.view()));
        t = random_table(rng, 10, Shape::Convex);
        t.widths = {2, 4, 3, 8};
        QVERIFY_THROWS_EXCEPTION(InputError, Ladder::build(t.view()));
    }

    // Equal costs at two widths (tiny tiles round up to the same 16-byte blocks): the cheaper-or-equal
    // point with the lower loss wins, and a width that costs more without lowering the loss is skipped.
    void equalCostsAndUselessWidths() {
        ItemTable t;
        t.widths = {2, 3, 4, 8};
        t.classes.push_back({{100, 100, 200, 400}, 0, 3});
        t.item_class = {0};
        t.S = {5.0, 4.0, 4.0, 1.0};  // 3 bits dominates 2 bits; 4 bits is useless; 8 bits is on the hull
        const Ladder L = Ladder::build(t.view());
        QCOMPARE(L.base_index(0), std::uint8_t(1));
        QCOMPARE(L.size(), std::size_t(1));
        QCOMPARE(int(L.steps()[0].to), 3);
        QCOMPARE(L.loss_at(0), 4.0);
        QCOMPARE(L.loss_at(1), 1.0);
    }

    void emptyTable() {
        ItemTable t;
        t.widths = {2, 3, 4, 8};
        const Ladder L = Ladder::build(t.view());
        QCOMPARE(L.size(), std::size_t(0));
        QCOMPARE(L.prefix_for(0), std::size_t(0));
    }
};

QTEST_APPLESS_MAIN(TestLadder)
#include "tst_ladder.moc"
