#pragma once
// One row per quantized matrix: layer, matrix kind, shape, tiles, allocated average width, size and
// share of the model's sensitivity. The analysis arrives whole (reset); each new solution updates the
// two allocation columns in place (dataChanged), so selection and sorting survive slider moves.
#include <QAbstractTableModel>

#include <memory>
#include <vector>

#include "core/analysis/summary.h"

namespace scalebits::analysis {
struct Analysis;
}

namespace scalebits::ui {

class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Layer, Matrix, Shape, Tiles, AvgBits, Size, Share, ColumnCount };
    // Raw values for sorting and tests (DisplayRole is formatted text).
    static constexpr int SortRole = Qt::UserRole + 1;
    // The matrix index in the analysis, whatever the sort order.
    static constexpr int MatrixIndexRole = Qt::UserRole + 2;

    explicit LayerTableModel(QObject* parent = nullptr);

    void setAnalysis(std::shared_ptr<const analysis::Analysis> analysis);
    // Per-matrix values of the current allocation; ignored when its size does not match.
    void setSummary(const analysis::AllocationSummary& summary);
    // The width each matrix is pinned at (0 = not pinned), analysis order; shown beside its width.
    void setPinned(std::vector<int> pinned_bits);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::shared_ptr<const analysis::Analysis> analysis_;
    std::vector<double> shares_;
    std::vector<analysis::MatrixSummary> summary_;
    std::vector<int> pinned_;
};

}  // namespace scalebits::ui
