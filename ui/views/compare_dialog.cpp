#include "ui/views/compare_dialog.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QGridLayout>
#include <QLabel>
#include <QLocale>

#include <cmath>
#include <limits>

#include "core/analysis/allocation.h"
#include "ui/views/figure_export.h"
#include "ui/views/heatmap_plot.h"

namespace scalebits::ui {

namespace {
const char* const kSide[] = {"A", "B"};
}  // namespace

CompareDialog::CompareDialog(AllocationController* controller, int matrix, QWidget* parent)
    : QDialog(parent), controller_(controller), matrix_(matrix) {
    setWindowTitle(tr("Compare allocations"));
    grid_ = new QGridLayout(this);
    for (int side = 0; side < 2; ++side) {
        auto* row = new QHBoxLayout;
        row->addWidget(new QLabel(QString::fromLatin1(kSide[side]), this));
        method_[std::size_t(side)] = new QComboBox(this);
        method_[std::size_t(side)]->addItems(AllocationController::methodNames());
        method_[std::size_t(side)]->setCurrentText(controller->method());
        budget_[std::size_t(side)] = new QDoubleSpinBox(this);
        budget_[std::size_t(side)]->setDecimals(3);
        budget_[std::size_t(side)]->setSingleStep(0.01);
        budget_[std::size_t(side)]->setSuffix(tr(" bits"));
        budget_[std::size_t(side)]->setRange(controller->minBits(), controller->maxBits());
        budget_[std::size_t(side)]->setKeyboardTracking(false);
        row->addWidget(method_[std::size_t(side)], 1);
        row->addWidget(budget_[std::size_t(side)]);
        grid_->addLayout(row, 0, side);
        summary_[std::size_t(side)] = new QLabel(this);
        summary_[std::size_t(side)]->setTextInteractionFlags(Qt::TextSelectableByMouse);
        grid_->addWidget(summary_[std::size_t(side)], 1, side);
    }
    // B starts half a bit above what is on screen: the question is usually "what do more bits buy".
    budget_[0]->setValue(controller->budget());
    budget_[1]->setValue(std::min(controller->maxBits(), controller->budget() + 0.5));
    difference_ = new QCustomPlot(this);
    differenceMap_ = new QCPColorMap(difference_->xAxis, difference_->yAxis);
    auto* scale = new QCPColorScale(difference_);
    difference_->plotLayout()->addElement(0, 1, scale);
    differenceMap_->setColorScale(scale);
    differenceMap_->setInterpolate(false);
    QCPColorGradient polar(QCPColorGradient::gpPolar);
    polar.setNanHandling(QCPColorGradient::nhTransparent);
    differenceMap_->setGradient(polar);
    differenceMap_->setDataRange(QCPRange(-6, 6));
    scale->setLabel(tr("B − A (bits)"));
    difference_->yAxis->setRangeReversed(true);
    for (QCPAxis* axis : {difference_->xAxis, difference_->yAxis}) {  // whole tiles only
        auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
        ticker->setTickStep(1.0);
        ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        axis->setTicker(ticker);
    }
    difference_->xAxis->setLabel(tr("tile column"));
    difference_->yAxis->setLabel(tr("tile row"));
    difference_->setMinimumSize(260, 220);
    addFigureMenu(difference_, QStringLiteral("width-difference"), {});
    differenceNote_ = new QLabel(this);
    grid_->addWidget(difference_, 2, 2);
    differenceNote_->setWordWrap(true);
    grid_->addWidget(differenceNote_, 1, 2);
    grid_->setRowStretch(2, 1);  // the heatmaps take the height
    for (int side = 0; side < 2; ++side) {
        connect(method_[std::size_t(side)], &QComboBox::currentTextChanged, this, &CompareDialog::update);
        connect(budget_[std::size_t(side)], &QDoubleSpinBox::valueChanged, this, &CompareDialog::update);
    }
    resize(1100, 520);
    update();
}

void CompareDialog::setMatrix(int matrix) {
    matrix_ = matrix;
    update();
}

void CompareDialog::showWidths(int side) {
    const auto& s = solution_[std::size_t(side)];
    const bool reordered = !s || analysis::method_uses_reordered_layout(s->method);
    HeatmapPlot*& plot = widths_[std::size_t(side)];
    if (!plot || plot->reordered() != reordered) {  // a plot draws one layout
        delete plot;
        plot = new HeatmapPlot(HeatmapPlot::Mode::Width, reordered, this);
        plot->setMinimumSize(260, 220);
        grid_->addWidget(plot, 2, side);
    }
    plot->setMatrix(controller_->analysis(), matrix_);
    if (s) plot->setWidths(s->current, s->tile_offsets);
}

double CompareDialog::differenceAt(int gridRow, int gridCol) const {
    const auto& a = solution_[0];
    const auto& b = solution_[1];
    const auto analysis = controller_->analysis();
    if (!a || !b || !analysis || matrix_ < 0) return std::numeric_limits<double>::quiet_NaN();
    if (analysis::method_uses_reordered_layout(a->method) != analysis::method_uses_reordered_layout(b->method))
        return std::numeric_limits<double>::quiet_NaN();  // tile (r, c) holds other channels in the other layout
    const auto& m = analysis->matrices[std::size_t(matrix_)];
    const std::size_t t = std::size_t(a->tile_offsets[std::size_t(matrix_)] + gridRow * m.grid_cols() + gridCol);
    return double(b->current->widths[t]) - double(a->current->widths[t]);
}

QString CompareDialog::summary(int side) const { return summary_[std::size_t(side)]->text(); }
QString CompareDialog::differenceNote() const { return differenceNote_->text(); }

void CompareDialog::update() {
    const QLocale locale;
    for (int side = 0; side < 2; ++side) {
        auto& s = solution_[std::size_t(side)];
        try {
            s = controller_->solutionFor(parse_alloc_method(method_[std::size_t(side)]->currentText().toStdString()),
                                         Budget::bits_per_weight(budget_[std::size_t(side)]->value()));
            summary_[std::size_t(side)]->setText(
                tr("%1: %2 at %3 bits/weight · %4 · predicted loss +%5")
                    .arg(QString::fromLatin1(kSide[side]), method_[std::size_t(side)]->currentText(),
                         locale.toString(s->current->avg_bits, 'f', 3),
                         locale.formattedDataSize(s->current->total_bytes, 2, QLocale::DataSizeSIFormat),
                         locale.toString(s->current->predicted_loss, 'g', 4)));
        } catch (const std::exception& e) {
            s.reset();
            summary_[std::size_t(side)]->setText(QString::fromLatin1(kSide[side]) + QStringLiteral(": ") +
                                                 QString::fromStdString(e.what()));
        }
        showWidths(side);
    }
    const auto analysis = controller_->analysis();
    auto* data = differenceMap_->data();
    if (!analysis || matrix_ < 0) {
        data->setSize(0, 0);
        difference_->replot(QCustomPlot::rpQueuedRefresh);
        return;
    }
    const auto& m = analysis->matrices[std::size_t(matrix_)];
    const int rows = int(m.grid_rows()), cols = int(m.grid_cols());
    data->setSize(cols, rows);
    data->setRange(QCPRange(0, std::max(0, cols - 1)), QCPRange(0, std::max(0, rows - 1)));
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) data->setCell(c, r, differenceAt(r, c));
    difference_->xAxis->setRange(-0.5, cols - 0.5);
    difference_->yAxis->setRange(-0.5, rows - 0.5);
    const bool same = solution_[0] && solution_[1] && std::isfinite(differenceAt(0, 0));
    differenceNote_->setText(same ? tr("B − A, tile by tile, %1").arg(QString::fromStdString(m.name))
                                  : tr("The two allocations are in different layouts (channel reordering): their tiles "
                                       "hold different weights, so there is no tile-by-tile difference."));
    difference_->replot(QCustomPlot::rpQueuedRefresh);
}

}  // namespace scalebits::ui
