#pragma once
// The whole model at a glance: one cell per matrix, layers down and matrix kinds across (the
// embedding and lm_head in a last row when the allocation covers them), coloured by each matrix's
// share of the model's sensitivity or by its allocated average width, following the slider.
// Clicking a cell selects that matrix.
#include <QWidget>

#include <memory>
#include <vector>

#include "core/analysis/analysis.h"
#include "ui/controllers/allocation_controller.h"
#include "ui/qcp.h"

class QComboBox;

namespace scalebits::ui {

class ModelMap : public QWidget {
    Q_OBJECT
public:
    enum class Colour { Sensitivity, Bits };
    explicit ModelMap(QWidget* parent = nullptr);

    void setAnalysis(std::shared_ptr<const analysis::Analysis> analysis);
    void setColour(Colour colour);
    Colour colour() const { return colour_; }

    int rows() const { return rows_; }        // layers, plus one for the vocabulary matrices
    int columns() const { return columns_; }  // the linear kinds, plus embedding and lm_head
    int matrixAt(int row, int column) const;  // analysis index, -1 for an empty cell
    // Percent of the model's sensitivity (at least 0.001, the log scale's floor) or average bits;
    // NaN for an empty cell.
    double cellValue(int row, int column) const;
    QPoint cellCenter(int row, int column) const;  // in plot() coordinates (tests click there)
    QCustomPlot* plot() const { return plot_; }
    QString csv() const;  // layer,kind,matrix,value (the colour shown)

public Q_SLOTS:
    void showSolution(std::shared_ptr<const scalebits::ui::Solution> solution);

Q_SIGNALS:
    void matrixClicked(int matrix);

private:
    void fill();
    void clicked(QMouseEvent* event);

    QComboBox* colourBox_ = nullptr;
    QCustomPlot* plot_ = nullptr;
    QCPColorMap* map_ = nullptr;
    QCPColorScale* scale_ = nullptr;
    Colour colour_ = Colour::Sensitivity;
    std::shared_ptr<const analysis::Analysis> analysis_;
    std::shared_ptr<const Solution> solution_;
    std::vector<double> shares_;  // per matrix, of the model's sensitivity
    std::vector<int> cells_;      // row * columns_ + column -> matrix, -1 when empty
    int rows_ = 0, columns_ = 0;
};

}  // namespace scalebits::ui
