// Cost model and budgets against hand-computed cases: the bytes a budget buys must be the bytes the
// export writes, so the formula is checked number by number.
#include "core/alloc/budget.h"
#include "core/alloc/cost_model.h"
#include "core/util/error.h"

#include <QtTest>

using namespace scalebits;

class TestCostModel : public QObject {
    Q_OBJECT
private slots:
    void packedTileBytes_data() {
        QTest::addColumn<qint64>("rows");
        QTest::addColumn<qint64>("cols");
        QTest::addColumn<qint64>("group");
        QTest::addColumn<int>("bits");
        QTest::addColumn<qint64>("bytes");
        // 128x128, g=64, b=3: payload 128*128*3/8 = 6144; ng = 256 -> scales 512; zeros ceil(768/8) = 96.
        QTest::newRow("128x128 g64 b3") << qint64(128) << qint64(128) << qint64(64) << 3 << qint64(6144 + 512 + 96);
        // Edge tile 44x64, g=64, b=3: payload ceil(8448/8) = 1056; ng = 44 -> scales ru16(88) = 96;
        // zeros ru16(ceil(132/8) = 17) = 32.
        QTest::newRow("44x64 g64 b3") << qint64(44) << qint64(64) << qint64(64) << 3 << qint64(1056 + 96 + 32);
        // 128x128, g=128, b=2: payload 4096; ng = 128 -> scales 256; zeros 32.
        QTest::newRow("128x128 g128 b2") << qint64(128) << qint64(128) << qint64(128) << 2 << qint64(4096 + 256 + 32);
        // 128x128, g=128, b=8: payload 16384; scales 256; zeros 128.
        QTest::newRow("128x128 g128 b8") << qint64(128) << qint64(128) << qint64(128) << 8 << qint64(16384 + 256 + 128);
        // 1x1, g=128, b=5: payload ceil(5/8) = 1 -> 16; ng = 1 -> scales 2 -> 16; zeros 1 -> 16.
        QTest::newRow("1x1 b5") << qint64(1) << qint64(1) << qint64(128) << 5 << qint64(48);
        // 3x70, g=32, b=7: payload ceil(1470/8) = 184 -> 192; ng = 3*3 = 9 -> scales 18 -> 32;
        // zeros ceil(63/8) = 8 -> 16.
        QTest::newRow("3x70 g32 b7") << qint64(3) << qint64(70) << qint64(32) << 7 << qint64(192 + 32 + 16);
    }
    void packedTileBytes() {
        QFETCH(qint64, rows);
        QFETCH(qint64, cols);
        QFETCH(qint64, group);
        QFETCH(int, bits);
        QFETCH(qint64, bytes);
        QCOMPARE(packed_tile_bytes(rows, cols, group, bits), bytes);
        QCOMPARE(tile_bytes_with_header(rows, cols, group, bits), bytes + 9);
    }

    void rejectsBadTiles() {
        QVERIFY_THROWS_EXCEPTION(InputError, packed_tile_bytes(0, 128, 128, 4));
        QVERIFY_THROWS_EXCEPTION(InputError, packed_tile_bytes(128, 128, 0, 4));
        QVERIFY_THROWS_EXCEPTION(InputError, packed_tile_bytes(128, 128, 128, 1));
        QVERIFY_THROWS_EXCEPTION(InputError, packed_tile_bytes(128, 128, 128, 9));
    }

    void groupBits() {
        QCOMPARE(group_bits(128, 3), qint64(128 * 3 + 16 + 3));
        QCOMPARE(group_bits(40, 8), qint64(40 * 8 + 16 + 8));
    }

    void tileGrid() {
        MatrixSpec m{{300, 200, 128, 128, 64}, "m"};
        QCOMPARE(m.grid_rows(), qint64(3));
        QCOMPARE(m.grid_cols(), qint64(2));
        QCOMPARE(m.tile_height(0), qint64(128));
        QCOMPARE(m.tile_width(1), qint64(72));
        QCOMPARE(m.tile_height(5), qint64(44));
        QCOMPARE(m.tile_width(5), qint64(72));
        QCOMPARE(m.group_count(), qint64(300 * 4));
    }

    // The dry run adds tile by tile with the edge tiles cut short, plus the caller's overhead.
    void estimateSize() {
        std::vector<MatrixSpec> ms{{{300, 200, 128, 128, 64}, "a"}, {{128, 128, 128, 128, 128}, "b"}};
        std::vector<std::uint8_t> widths{2, 3, 4, 8, 3, 2, 4};
        const SizeEstimate e = estimate_size(ms, widths, 1000);
        std::int64_t expect = 0;
        for (std::int64_t t = 0; t < 6; ++t)
            expect += tile_bytes_with_header(ms[0].tile_height(t), ms[0].tile_width(t), 64, widths[std::size_t(t)]);
        expect += tile_bytes_with_header(128, 128, 128, 4);
        QCOMPARE(e.quantized_bytes, expect);
        QCOMPARE(e.total_bytes, expect + 1000);
        QCOMPARE(e.quantized_weights, qint64(300 * 200 + 128 * 128));
        QCOMPARE(e.avg_bits, 8.0 * double(expect) / double(300 * 200 + 128 * 128));
        // Too few or too many widths, or a width outside 2..8, is an input error.
        widths.pop_back();
        QVERIFY_THROWS_EXCEPTION(InputError, estimate_size(ms, widths, 0));
        widths.push_back(4);
        widths.push_back(4);
        QVERIFY_THROWS_EXCEPTION(InputError, estimate_size(ms, widths, 0));
        widths.pop_back();
        widths[0] = 9;
        QVERIFY_THROWS_EXCEPTION(InputError, estimate_size(ms, widths, 0));
    }

    void budgets() {
        QCOMPARE(budget_to_bits(Budget::bits_per_weight(2.5), 1000, 77), qint64(2500));
        // Rounded down, never up.
        QCOMPARE(budget_to_bits(Budget::bits_per_weight(2.5), 1001, 0), qint64(2502));
        QCOMPARE(budget_to_bits(Budget::bytes(10000), 1000, 2000), qint64(8000 * 8));
        QVERIFY_THROWS_EXCEPTION(InputError, budget_to_bits(Budget::bytes(1000), 1000, 2000));
        QVERIFY_THROWS_EXCEPTION(InputError, budget_to_bits(Budget::bits_per_weight(-1), 1000, 0));
        QVERIFY_THROWS_EXCEPTION(InputError, budget_to_bits(Budget::bits_per_weight(std::nan("")), 1000, 0));
    }

    void validation() {
        std::vector<MatrixSpec> ms{{{128, 128, 128, 64, 128}, "wide"}};
        QVERIFY_THROWS_EXCEPTION(InputError, validate_matrices(ms));  // group wider than the tile
        ms = {{{128, 128, 128, 128, 48}, "odd"}};
        QVERIFY_THROWS_EXCEPTION(InputError, validate_matrices(ms));  // group does not divide the tile
        ms = {{{128, 128, 128, 128, 128}, "x", 4, 3, 0}};
        QVERIFY_THROWS_EXCEPTION(InputError, validate_matrices(ms));  // min above max
        ms = {{{128, 128, 128, 128, 128}, "x", 0, 0, 9}};
        QVERIFY_THROWS_EXCEPTION(InputError, validate_matrices(ms));  // pinned outside 2..8
        ms = {{{0, 128}, "x"}};
        QVERIFY_THROWS_EXCEPTION(InputError, validate_matrices(ms));
    }
};

QTEST_APPLESS_MAIN(TestCostModel)
#include "tst_cost_model.moc"
