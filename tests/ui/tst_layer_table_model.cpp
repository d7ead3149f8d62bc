// The layer table model under QAbstractItemModelTester (attached before any data arrives), directly
// and through the sort/filter proxy the main window uses.
#include <QAbstractItemModelTester>
#include <QSortFilterProxyModel>
#include <QtTest>

#include "core/alloc/allocator.h"
#include "core/analysis/problem.h"
#include "core/analysis/summary.h"
#include "core/analysis/synthetic.h"
#include "ui/models/layer_table_model.h"

using namespace scalebits;
using scalebits::ui::LayerTableModel;

class TestLayerTableModel : public QObject {
    Q_OBJECT
    std::shared_ptr<const analysis::Analysis> small() {
        auto o = analysis::smollm2_like(7);
        o.config.n_layers = 3;
        return std::make_shared<const analysis::Analysis>(analysis::make_synthetic_analysis(o));
    }

private Q_SLOTS:
    void testerOnResetAndUpdates() {
        LayerTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSortFilterProxyModel proxy;
        QAbstractItemModelTester proxyTester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        proxy.setSourceModel(&model);
        proxy.setSortRole(LayerTableModel::SortRole);

        const auto a = small();
        model.setAnalysis(a);
        QCOMPARE(model.rowCount(), 21);
        QCOMPARE(model.columnCount(), int(LayerTableModel::ColumnCount));
        // No allocation yet: the allocation columns are empty, not zero.
        QVERIFY(model.data(model.index(0, LayerTableModel::AvgBits)).toString().isEmpty());

        const auto problem = analysis::make_tile_problem(*a, {});
        const TileAllocator allocator(problem);
        const auto allocation = allocator.solve(Budget::bits_per_weight(3.5));
        const auto summary = analysis::AllocationSummarizer(problem).summarize(allocation);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.setSummary(summary);
        QCOMPARE(changed.count(), 1);
        for (int r = 0; r < model.rowCount(); ++r) {
            QCOMPARE(model.data(model.index(r, LayerTableModel::AvgBits), LayerTableModel::SortRole).toDouble(),
                     summary.matrices[std::size_t(r)].avg_bits);
            QCOMPARE(model.data(model.index(r, LayerTableModel::Size), LayerTableModel::SortRole).toLongLong(),
                     summary.matrices[std::size_t(r)].bytes);
        }
        // The per-matrix bytes add up to the allocation's quantized bytes: the table and the totals agree.
        std::int64_t bytes = 0;
        for (const auto& m : summary.matrices) bytes += m.bytes;
        QCOMPARE(bytes, allocation.quantized_bytes);

        // Pinned matrices say so beside their width (one dataChanged for the column).
        std::vector<int> pinned(std::size_t(model.rowCount()), 0);
        pinned[2] = 8;
        changed.clear();
        model.setPinned(pinned);
        QCOMPARE(changed.count(), 1);
        QVERIFY(model.data(model.index(2, LayerTableModel::AvgBits)).toString().contains(QStringLiteral("pinned")));
        QVERIFY(!model.data(model.index(1, LayerTableModel::AvgBits)).toString().contains(QStringLiteral("pinned")));
        model.setPinned(pinned);  // unchanged: no signal
        QCOMPARE(changed.count(), 1);

        // Sorting by share puts the most sensitive matrix first.
        proxy.sort(LayerTableModel::Share, Qt::DescendingOrder);
        const auto shares = analysis::sensitivity_shares(*a);
        const double top = *std::max_element(shares.begin(), shares.end());
        QCOMPARE(proxy.data(proxy.index(0, LayerTableModel::Share), LayerTableModel::SortRole).toDouble(), top);

        // A summary of the wrong size is ignored rather than read out of bounds.
        analysis::AllocationSummary wrong;
        wrong.matrices.resize(2);
        model.setSummary(wrong);
        QCOMPARE(model.data(model.index(0, LayerTableModel::AvgBits), LayerTableModel::SortRole).toDouble(),
                 summary.matrices[0].avg_bits);

        model.setAnalysis(nullptr);
        QCOMPARE(model.rowCount(), 0);
    }

    void filterByName() {
        LayerTableModel model;
        QSortFilterProxyModel proxy;
        QAbstractItemModelTester proxyTester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        proxy.setSourceModel(&model);
        proxy.setFilterKeyColumn(LayerTableModel::Matrix);
        proxy.setFilterRole(Qt::ToolTipRole);
        model.setAnalysis(small());
        proxy.setFilterFixedString(QStringLiteral("down_proj"));
        QCOMPARE(proxy.rowCount(), 3);
        proxy.setFilterFixedString(QStringLiteral("layers.1."));
        QCOMPARE(proxy.rowCount(), 7);
        QCOMPARE(proxy.data(proxy.index(0, LayerTableModel::Layer)).toInt(), 1);
    }
};

QTEST_MAIN(TestLayerTableModel)
#include "tst_layer_table_model.moc"
