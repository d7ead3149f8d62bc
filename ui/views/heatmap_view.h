#pragma once
// The selected matrix four ways: Fisher mass (log scale) and allocated width (discrete palette), in
// the original layout (left) and the reordered one (right), so the user sees what reordering did to
// where the sensitivity sits and where the bits go. Exports the view as PNG/SVG and the tiles as CSV.
#include <QWidget>

#include <array>
#include <memory>

#include "ui/controllers/allocation_controller.h"

class QLabel;

namespace scalebits::ui {

class HeatmapPlot;

class HeatmapView : public QWidget {
    Q_OBJECT
public:
    explicit HeatmapView(QWidget* parent = nullptr);

    void setAnalysis(std::shared_ptr<const analysis::Analysis> analysis);
    int matrix() const { return matrix_; }
    // The plots: [0] sensitivity original, [1] sensitivity reordered, [2] width original, [3] width reordered.
    HeatmapPlot* plot(int i) const { return plots_[std::size_t(i)]; }

    // Throws InputError naming the file when it cannot be written.
    void exportImage(const QString& path) const;  // .png or .svg by suffix
    void exportCsv(const QString& path) const;

Q_SIGNALS:
    // A click on a tile of an allocated-width heatmap (the tile inspector): the analysis matrix, the
    // tile's index in that layout's grid, and which layout.
    void tileClicked(int matrix, qint64 tile, bool reordered, Qt::MouseButton button, QPoint globalPos);

public Q_SLOTS:
    void setMatrix(int index);
    void setSolution(std::shared_ptr<const scalebits::ui::Solution> solution);
    void resetZoom();

private:
    void updateTitle();

    std::shared_ptr<const analysis::Analysis> analysis_;
    std::shared_ptr<const Solution> solution_;
    int matrix_ = -1;
    std::array<HeatmapPlot*, 4> plots_{};
    QLabel* title_ = nullptr;
};

}  // namespace scalebits::ui
