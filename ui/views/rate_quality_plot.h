#pragma once
// Predicted loss increase against average bits per weight, one curve per allocation method (computed
// by the core allocators at a grid of budgets), with the current budget marked, and perplexities
// measured by "Evaluate at this budget" as points on the right axis.
#include <QHash>

#include <memory>

#include "ui/controllers/allocation_controller.h"
#include "ui/qcp.h"

namespace scalebits::ui {

class RateQualityPlot : public QCustomPlot {
    Q_OBJECT
public:
    explicit RateQualityPlot(QWidget* parent = nullptr);
    int curveCount() const { return graphCount(); }
    // kind,method,avg_bits,value: the predicted-loss curves, then the measured perplexities.
    QString csv() const;

public Q_SLOTS:
    void showCurves(std::shared_ptr<const scalebits::ui::RateQuality> curves);
    void showSolution(std::shared_ptr<const scalebits::ui::Solution> solution);
    void addMeasurement(const QString& method, double avg_bits, double ppl);
    void clearMeasurements();

public:
    int measurementCount() const;

private:
    void drawMeasurements();
    struct Measured {
        QString method;
        double bits, ppl;
    };
    QVector<Measured> measured_;
    QCPItemStraightLine* marker_ = nullptr;
    QCPGraph* current_ = nullptr;
    std::shared_ptr<const Solution> last_;  // re-marked when the curves arrive after it
};

}  // namespace scalebits::ui
