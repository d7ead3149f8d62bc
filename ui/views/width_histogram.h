#pragma once
// Share of the quantized weights at each width for the current allocation (one bar per width).
#include <memory>

#include "ui/controllers/allocation_controller.h"
#include "ui/qcp.h"

namespace scalebits::ui {

class WidthHistogram : public QCustomPlot {
    Q_OBJECT
public:
    explicit WidthHistogram(QWidget* parent = nullptr);
    double barValue(int bits) const;  // percent shown for `bits` (tests)
    QString csv() const;              // width,percent_of_weights

public Q_SLOTS:
    void showSolution(std::shared_ptr<const scalebits::ui::Solution> solution);

private:
    QCPBars* bars_ = nullptr;
};

}  // namespace scalebits::ui
