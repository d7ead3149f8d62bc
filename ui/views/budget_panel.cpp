#include "ui/views/budget_panel.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QSignalBlocker>
#include <QSlider>

#include <cmath>

namespace scalebits::ui {

BudgetPanel::BudgetPanel(QWidget* parent) : QWidget(parent) {
    auto* form = new QFormLayout(this);
    form->setContentsMargins(6, 6, 6, 6);

    auto* row = new QHBoxLayout;
    slider_ = new QSlider(Qt::Horizontal, this);
    slider_->setRange(0, kSteps);
    slider_->setPageStep(kSteps / 20);
    slider_->setToolTip(tr("Average bits per weight of the quantized layers (scales, zeros and tile headers "
                           "included). Arrow keys for fine steps."));
    spin_ = new QDoubleSpinBox(this);
    spin_->setDecimals(3);
    spin_->setSingleStep(0.01);
    spin_->setSuffix(tr(" bits"));
    spin_->setKeyboardTracking(false);  // solve on Enter/focus-out, not on every typed digit
    size_ = new QLabel(this);
    size_->setMinimumWidth(90);
    size_->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    size_->setToolTip(tr("Size of the exported file at this budget (unquantized tensors included)"));
    row->addWidget(slider_, 1);
    row->addWidget(spin_);
    row->addWidget(size_);
    auto* budgetLabel = new QLabel(tr("&Budget:"), this);
    budgetLabel->setBuddy(spin_);  // Alt+B jumps to the exact entry box
    form->addRow(budgetLabel, row);

    method_ = new QComboBox(this);
    method_->addItems(AllocationController::methodNames());
    method_->setToolTip(tr("scalebits: one width per tile on the reordered layout\n"
                           "tile-noreorder: the same without channel reordering\n"
                           "layer: one width per matrix\nuniform: one width everywhere\n"
                           "uniform-mix: two adjacent widths, whole matrices moved up"));
    form->addRow(tr("&Method:"), method_);

    totals_ = new QLabel(this);
    totals_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    form->addRow(tr("Result:"), totals_);

    connect(slider_, &QSlider::valueChanged, this, &BudgetPanel::sliderMoved);
    connect(spin_, &QDoubleSpinBox::valueChanged, this, &BudgetPanel::spinChanged);
    connect(method_, &QComboBox::currentTextChanged, this, &BudgetPanel::methodRequested);
    setRange(2.0, 8.0);
}

void BudgetPanel::setRange(double minBits, double maxBits) {
    min_ = minBits;
    max_ = std::max(maxBits, minBits);
    const QSignalBlocker block(spin_);
    spin_->setRange(min_, max_);
}

double BudgetPanel::budget() const { return spin_->value(); }

void BudgetPanel::setBudget(double bits) {
    updating_ = true;
    {
        const QSignalBlocker a(spin_), b(slider_);
        spin_->setValue(bits);
        // Slider position from the budget: layout only (the allocator sees the exact value).
        slider_->setValue(max_ > min_ ? int(std::lround((bits - min_) / (max_ - min_) * kSteps)) : 0);
    }
    updating_ = false;
}

void BudgetPanel::setMethod(const QString& method) {
    const QSignalBlocker block(method_);
    method_->setCurrentText(method);
}

void BudgetPanel::sliderMoved(int position) {
    if (updating_) return;
    const double bits = min_ + (max_ - min_) * position / kSteps;
    {
        const QSignalBlocker block(spin_);
        spin_->setValue(bits);
    }
    // The box rounds to its decimals: solve for exactly the number the user sees.
    Q_EMIT budgetRequested(spin_->value());
}

void BudgetPanel::spinChanged(double bits) {
    if (updating_) return;
    {
        const QSignalBlocker block(slider_);
        slider_->setValue(max_ > min_ ? int(std::lround((bits - min_) / (max_ - min_) * kSteps)) : 0);
    }
    Q_EMIT budgetRequested(bits);
}

void BudgetPanel::showSolution(std::shared_ptr<const Solution> solution) {
    if (!solution || !solution->current) return;
    const auto& a = *solution->current;
    const QLocale locale;
    size_->setText(QStringLiteral("<b>%1</b>").arg(locale.formattedDataSize(a.total_bytes, 2, QLocale::DataSizeSIFormat)));
    totals_->setStyleSheet(QString());
    totals_->setText(tr("%1 bits/weight · quantized %2 · predicted loss +%3")
                         .arg(locale.toString(a.avg_bits, 'f', 3),
                              locale.formattedDataSize(a.quantized_bytes, 2, QLocale::DataSizeSIFormat),
                              locale.toString(a.predicted_loss, 'g', 4)));
}

void BudgetPanel::showError(const QString& message) {
    totals_->setStyleSheet(QStringLiteral("color: #b00020"));
    totals_->setText(message);
}

}  // namespace scalebits::ui
