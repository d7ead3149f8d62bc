#pragma once
// Two allocations side by side (two budgets, or two methods at one budget): the selected matrix's
// width heatmap of each, the tile-by-tile difference (B - A, when both are in the same layout) and the
// predicted loss and bytes of each. The allocations come from the controller's allocators; what is
// on screen in the main window does not change.
#include <QDialog>

#include <array>
#include <memory>

#include "ui/controllers/allocation_controller.h"
#include "ui/qcp.h"

class QComboBox;
class QDoubleSpinBox;
class QGridLayout;
class QLabel;

namespace scalebits::ui {

class HeatmapPlot;

class CompareDialog : public QDialog {
    Q_OBJECT
public:
    CompareDialog(AllocationController* controller, int matrix, QWidget* parent = nullptr);

    void setMatrix(int matrix);
    QComboBox* methodBox(int side) const { return method_[std::size_t(side)]; }
    QDoubleSpinBox* budgetBox(int side) const { return budget_[std::size_t(side)]; }
    std::shared_ptr<const Solution> solution(int side) const { return solution_[std::size_t(side)]; }
    // B's width minus A's for a tile of the selected matrix; NaN when the layouts differ.
    double differenceAt(int gridRow, int gridCol) const;
    QString summary(int side) const;
    QString differenceNote() const;

private:
    void update();
    void showWidths(int side);

    AllocationController* controller_;
    int matrix_ = -1;
    std::array<QComboBox*, 2> method_{};
    std::array<QDoubleSpinBox*, 2> budget_{};
    std::array<QLabel*, 2> summary_{};
    std::array<HeatmapPlot*, 2> widths_{};
    std::array<std::shared_ptr<const Solution>, 2> solution_{};
    QCustomPlot* difference_ = nullptr;
    QCPColorMap* differenceMap_ = nullptr;
    QLabel* differenceNote_ = nullptr;
    QGridLayout* grid_ = nullptr;
};

}  // namespace scalebits::ui
