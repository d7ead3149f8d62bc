#include "ui/views/heatmap_plot.h"

#include <QLocale>
#include <QToolTip>

#include <cmath>
#include <limits>

#include "core/alloc/cost_model.h"
#include "core/analysis/summary.h"

namespace scalebits::ui {
namespace {

// Seven levels for widths 2..8: cool (cheap, few bits) to warm (many bits), readable side by side.
QCPColorGradient widthGradient() {
    QCPColorGradient g;
    g.clearColorStops();
    const QColor colors[] = {QColor(0x31, 0x36, 0x95), QColor(0x45, 0x75, 0xb4), QColor(0x74, 0xad, 0xd1),
                             QColor(0xab, 0xd9, 0xe9), QColor(0xfd, 0xae, 0x61), QColor(0xf4, 0x6d, 0x43),
                             QColor(0xd7, 0x30, 0x27)};
    for (int i = 0; i < 7; ++i) g.setColorStopAt(i / 6.0, colors[i]);
    g.setLevelCount(7);
    g.setNanHandling(QCPColorGradient::nhTransparent);
    return g;
}

QCPColorGradient sensitivityGradient() {
    QCPColorGradient g(QCPColorGradient::gpThermal);
    g.setNanHandling(QCPColorGradient::nhTransparent);
    return g;
}

}  // namespace

HeatmapPlot::HeatmapPlot(Mode mode, bool reordered, QWidget* parent)
    : QCustomPlot(parent), mode_(mode), reordered_(reordered) {
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    setMouseTracking(true);
    axisRect()->setupFullAxesBox(true);
    xAxis->setLabel(tr("tile column"));
    yAxis->setLabel(tr("tile row"));
    yAxis->setRangeReversed(true);  // row 0 at the top, as the matrix is written
    for (auto* axis : {xAxis, yAxis}) {
        axis->grid()->setVisible(false);
        // Tile indices are integers: ticks at 1, 2, 5, 10... steps, never at 2.5.
        auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
        ticker->setTickStep(1.0);
        ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        axis->setTicker(ticker);
    }

    map_ = new QCPColorMap(xAxis, yAxis);
    map_->setInterpolate(false);
    map_->setTightBoundary(false);
    scale_ = new QCPColorScale(this);
    scale_->setType(QCPAxis::atRight);
    scale_->setBarWidth(10);
    plotLayout()->addElement(0, 1, scale_);
    map_->setColorScale(scale_);
    auto* margins = new QCPMarginGroup(this);
    axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    scale_->setMarginGroup(QCP::msBottom | QCP::msTop, margins);

    if (mode_ == Mode::Sensitivity) {
        scale_->setDataScaleType(QCPAxis::stLogarithmic);
        scale_->axis()->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
        scale_->axis()->setNumberFormat(QStringLiteral("eb"));
        scale_->axis()->setNumberPrecision(0);
        scale_->setLabel(tr("Fisher mass"));
        map_->setGradient(sensitivityGradient());
    } else {
        auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
        ticker->setTickStep(1.0);
        scale_->axis()->setTicker(ticker);
        scale_->setLabel(tr("bits"));
        map_->setGradient(widthGradient());
        map_->setDataRange(QCPRange(2.0, 8.0));
    }
}

void HeatmapPlot::setMatrix(std::shared_ptr<const analysis::Analysis> analysis, int index) {
    analysis_ = std::move(analysis);
    matrix_ = analysis_ && index >= 0 && index < int(analysis_->matrices.size()) ? index : -1;
    auto* data = map_->data();
    if (matrix_ < 0) {
        data->setSize(0, 0);
        replot(rpQueuedRefresh);
        return;
    }
    const auto& m = analysis_->matrices[static_cast<std::size_t>(matrix_)];
    const int rows = int(m.grid_rows()), cols = int(m.grid_cols());
    data->setSize(cols, rows);
    data->setRange(QCPRange(0, std::max(0, cols - 1)), QCPRange(0, std::max(0, rows - 1)));
    if (mode_ == Mode::Sensitivity) {
        const auto& fisher = reordered_ ? m.fisher_reordered : m.fisher_original;
        for (int r = 0; r < rows; ++r)
            for (int c = 0; c < cols; ++c) {
                const double v = fisher[static_cast<std::size_t>(r) * std::size_t(cols) + std::size_t(c)];
                // A log scale cannot place zero: such tiles are left transparent.
                data->setCell(c, r, v > 0.0 ? v : std::numeric_limits<double>::quiet_NaN());
            }
        map_->rescaleDataRange(true);
    } else {
        fillWidths();
    }
    resetView();
}

void HeatmapPlot::setWidths(std::shared_ptr<const TileAllocation> allocation, const std::vector<std::int64_t>& offsets) {
    allocation_ = std::move(allocation);
    offset_ = -1;
    if (matrix_ >= 0 && std::size_t(matrix_) < offsets.size()) offset_ = offsets[std::size_t(matrix_)];
    if (mode_ == Mode::Width) {
        fillWidths();
        replot(rpQueuedRefresh);
    }
}

void HeatmapPlot::setPins(std::map<std::int64_t, int> pins) { pins_ = std::move(pins); }

void HeatmapPlot::fillWidths() {
    auto* data = map_->data();
    const int rows = gridRows(), cols = gridCols();
    const bool have = allocation_ && offset_ >= 0 &&
                      std::size_t(offset_) + std::size_t(rows) * std::size_t(cols) <= allocation_->widths.size();
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c)
            data->setCell(c, r,
                          have ? double(allocation_->widths[std::size_t(offset_) + std::size_t(r) * std::size_t(cols) + std::size_t(c)])
                               : std::numeric_limits<double>::quiet_NaN());
}

QCPRange HeatmapPlot::dataRange() const { return map_->dataRange(); }
void HeatmapPlot::setDataRange(const QCPRange& range) {
    map_->setDataRange(range);
    replot(rpQueuedRefresh);
}

int HeatmapPlot::gridRows() const { return map_->data()->valueSize(); }
int HeatmapPlot::gridCols() const { return map_->data()->keySize(); }
double HeatmapPlot::cellValue(int gridRow, int gridCol) const { return map_->data()->cell(gridCol, gridRow); }

void HeatmapPlot::resetView() {
    xAxis->setRange(-0.5, std::max(1, gridCols()) - 0.5);
    yAxis->setRange(-0.5, std::max(1, gridRows()) - 0.5);
    replot(rpQueuedRefresh);
}

QString HeatmapPlot::describeCell(int gridRow, int gridCol) const {
    if (matrix_ < 0 || gridRow < 0 || gridCol < 0 || gridRow >= gridRows() || gridCol >= gridCols()) return {};
    const auto& m = analysis_->matrices[std::size_t(matrix_)];
    const auto info = analysis::tile_info(*analysis_, m, gridRow, gridCol, reordered_);
    const QLocale locale;
    QString text = tr("<b>tile (%1, %2)</b> — %3 layout<br>rows %4–%5, columns %6–%7<br>Fisher mass %8")
                       .arg(gridRow)
                       .arg(gridCol)
                       .arg(reordered_ ? tr("reordered") : tr("original"))
                       .arg(info.row_begin)
                       .arg(info.row_end - 1)
                       .arg(info.col_begin)
                       .arg(info.col_end - 1)
                       .arg(locale.toString(info.fisher, 'g', 4));
    int chosen = 0;
    const std::int64_t tile = std::int64_t(gridRow) * gridCols() + gridCol;
    if (allocation_ && offset_ >= 0) {
        const auto t = std::size_t(offset_ + tile);
        if (t < allocation_->widths.size()) chosen = allocation_->widths[t];
    }
    if (chosen != 0) {
        const std::int64_t bytes = tile_bytes_with_header(info.row_end - info.row_begin, info.col_end - info.col_begin, m.group(), chosen);
        text += tr("<br>tile %1: %2 at %3 bytes").arg(tile).arg(chosen == kKeptBits ? tr("fp16") : tr("%1 bits").arg(chosen)).arg(bytes);
    }
    if (const auto pin = pins_.find(tile); pin != pins_.end())
        text += tr("<br><b>pinned at %1</b> (click to unpin)").arg(pin->second == kKeptBits ? tr("fp16") : tr("%1 bits").arg(pin->second));
    else if (mode_ == Mode::Width && chosen != 0)
        text += tr("<br><i>click to pin at this width, right-click for others</i>");
    text += QStringLiteral("<table>");
    for (std::size_t k = 0; k < info.S.size() && k < analysis_->widths.size(); ++k) {
        const int b = analysis_->widths[k];
        const QString mark = b == chosen ? QStringLiteral(" ◀ chosen") : QString();
        text += QStringLiteral("<tr><td>S(%1 bits)</td><td align=right>%2</td><td>%3</td></tr>")
                    .arg(b)
                    .arg(locale.toString(info.S[k], 'e', 3), mark);
    }
    text += QStringLiteral("</table>");
    return text;
}

void HeatmapPlot::paintEvent(QPaintEvent* event) {
    QCustomPlot::paintEvent(event);
    Q_EMIT painted();
}

bool HeatmapPlot::cellAt(QPointF pos, int* gridRow, int* gridCol) const {
    if (matrix_ < 0) return false;
    map_->data()->coordToCell(xAxis->pixelToCoord(pos.x()), yAxis->pixelToCoord(pos.y()), gridCol, gridRow);
    return *gridRow >= 0 && *gridCol >= 0 && *gridRow < gridRows() && *gridCol < gridCols();
}

void HeatmapPlot::mousePressEvent(QMouseEvent* event) {
    pressedAt_ = event->position();
    QCustomPlot::mousePressEvent(event);
}

void HeatmapPlot::mouseReleaseEvent(QMouseEvent* event) {
    QCustomPlot::mouseReleaseEvent(event);
    // A click, not the end of a drag that panned the view.
    if ((event->position() - pressedAt_).manhattanLength() > 4) return;
    int row = -1, col = -1;
    if (cellAt(event->position(), &row, &col))
        Q_EMIT cellClicked(row, col, event->button(), event->globalPosition().toPoint());
}

void HeatmapPlot::mouseMoveEvent(QMouseEvent* event) {
    QCustomPlot::mouseMoveEvent(event);
    if (event->buttons() != Qt::NoButton || matrix_ < 0) return;
    int col = -1, row = -1;
    cellAt(event->position(), &row, &col);
    const QString text = describeCell(row, col);
    if (text.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(event->globalPosition().toPoint(), text, this);
}

}  // namespace scalebits::ui
