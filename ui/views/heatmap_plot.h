#pragma once
// One tile grid of one matrix as a color map: Fisher mass per tile on a log scale, or the allocated
// width per tile on a discrete palette, in the original or the reordered layout. Hovering shows the
// tile's weight ranges, S at every candidate width, the chosen width, its bytes and the tile's pin (the
// tile inspector); drag pans, the wheel zooms, a click on a cell is reported (cellClicked).
#include <cstdint>
#include <map>
#include <memory>

#include "core/alloc/tile_problem.h"
#include "core/analysis/analysis.h"
#include "ui/qcp.h"

namespace scalebits::ui {

class HeatmapPlot : public QCustomPlot {
    Q_OBJECT
public:
    enum class Mode { Sensitivity, Width };
    HeatmapPlot(Mode mode, bool reordered, QWidget* parent = nullptr);

    Mode mode() const { return mode_; }
    bool reordered() const { return reordered_; }
    // Shows matrix `index` of the analysis (null clears). Width cells stay empty until setWidths.
    void setMatrix(std::shared_ptr<const analysis::Analysis> analysis, int index);
    // The allocation of this plot's layout and where the matrix's tiles start in it.
    void setWidths(std::shared_ptr<const TileAllocation> allocation, const std::vector<std::int64_t>& offsets);
    // The pins of this matrix's tiles (tile index -> width), for the tooltip.
    void setPins(std::map<std::int64_t, int> pins);
    // Same color range for both layouts, so original and reordered compare by eye.
    QCPRange dataRange() const;
    void setDataRange(const QCPRange& range);

    // The value a cell holds (row, col of the tile grid): what tests compare against the analysis.
    double cellValue(int gridRow, int gridCol) const;
    int gridRows() const;
    int gridCols() const;
    // Text of the hover tooltip for a cell (empty outside the grid).
    QString describeCell(int gridRow, int gridCol) const;
    // Zoom back to the whole grid.
    void resetView();

Q_SIGNALS:
    void painted();  // after every paint event: the end point of the responsiveness measurement
    // A press and release on one cell without dragging (globalPos: where, for a menu).
    void cellClicked(int gridRow, int gridCol, Qt::MouseButton button, QPoint globalPos);

protected:
    void paintEvent(QPaintEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;

private:
    void fillWidths();
    bool cellAt(QPointF pos, int* gridRow, int* gridCol) const;

    Mode mode_;
    bool reordered_;
    QCPColorMap* map_ = nullptr;
    QCPColorScale* scale_ = nullptr;
    std::shared_ptr<const analysis::Analysis> analysis_;
    int matrix_ = -1;
    std::shared_ptr<const TileAllocation> allocation_;
    std::int64_t offset_ = -1;
    std::map<std::int64_t, int> pins_;
    QPointF pressedAt_;
};

}  // namespace scalebits::ui
