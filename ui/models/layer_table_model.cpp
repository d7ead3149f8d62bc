#include "ui/models/layer_table_model.h"

#include <QLocale>

#include "core/analysis/analysis.h"

namespace scalebits::ui {

LayerTableModel::LayerTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void LayerTableModel::setAnalysis(std::shared_ptr<const analysis::Analysis> analysis) {
    beginResetModel();
    analysis_ = std::move(analysis);
    shares_ = analysis_ ? analysis::sensitivity_shares(*analysis_) : std::vector<double>{};
    summary_.clear();
    endResetModel();
}

void LayerTableModel::setSummary(const analysis::AllocationSummary& summary) {
    if (!analysis_ || summary.matrices.size() != analysis_->matrices.size()) return;
    summary_ = summary.matrices;
    if (rowCount() > 0) Q_EMIT dataChanged(index(0, AvgBits), index(rowCount() - 1, Size));
}

int LayerTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() || !analysis_ ? 0 : static_cast<int>(analysis_->matrices.size());
}

int LayerTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const auto row = static_cast<std::size_t>(index.row());
    const auto& m = analysis_->matrices[row];
    const bool allocated = row < summary_.size();
    if (role == MatrixIndexRole) return index.row();
    if (role == Qt::TextAlignmentRole)
        return index.column() == Matrix || index.column() == Shape ? QVariant(Qt::AlignLeft | Qt::AlignVCenter)
                                                                   : QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::ToolTipRole && index.column() == Matrix) return QString::fromStdString(m.name);
    if (role == SortRole) {
        switch (index.column()) {
        case Layer: return m.layer;
        case Matrix: return m.kind;
        case Shape: return QVariant::fromValue<qlonglong>(m.weights());
        case Tiles: return QVariant::fromValue<qlonglong>(m.tile_count());
        case AvgBits: return allocated ? QVariant(summary_[row].avg_bits) : QVariant();
        case Size: return allocated ? QVariant::fromValue<qlonglong>(summary_[row].bytes) : QVariant();
        case Share: return row < shares_.size() ? QVariant(shares_[row]) : QVariant();
        }
    }
    if (role != Qt::DisplayRole) return {};
    const QLocale locale;
    switch (index.column()) {
    case Layer: return m.layer >= 0 ? QVariant(m.layer) : QVariant(QStringLiteral("—"));  // embedding, lm_head
    case Matrix: return QString::fromLatin1(analysis::matrix_kind_name(m.kind));
    case Shape: return QStringLiteral("%1 × %2").arg(m.rows()).arg(m.cols());
    case Tiles: return QStringLiteral("%1 × %2").arg(m.grid_rows()).arg(m.grid_cols());
    case AvgBits: {
        if (!allocated) return QString();
        const QString bits = locale.toString(summary_[row].avg_bits, 'f', 2);
        return row < pinned_.size() && pinned_[row] ? tr("%1 (pinned)").arg(bits) : bits;
    }
    case Size:
        return allocated ? locale.formattedDataSize(summary_[row].bytes, 2, QLocale::DataSizeSIFormat) : QString();
    case Share: return row < shares_.size() ? locale.toString(shares_[row] * 100.0, 'f', 2) : QString();
    }
    return {};
}

void LayerTableModel::setPinned(std::vector<int> pinned_bits) {
    if (pinned_bits == pinned_) return;
    pinned_ = std::move(pinned_bits);
    if (rowCount() > 0) Q_EMIT dataChanged(index(0, AvgBits), index(rowCount() - 1, AvgBits), {Qt::DisplayRole});
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole || section < 0 || section >= ColumnCount) return {};
    static const char* const names[] = {QT_TR_NOOP("Layer"),    QT_TR_NOOP("Matrix"), QT_TR_NOOP("Shape"),
                                        QT_TR_NOOP("Tiles"),    QT_TR_NOOP("Avg bits"), QT_TR_NOOP("Size"),
                                        QT_TR_NOOP("Sens. %")};
    return tr(names[section]);
}

}  // namespace scalebits::ui
