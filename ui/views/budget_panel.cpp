#include "ui/views/budget_panel.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QRegularExpression>
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
                           "included). Arrow keys: 0.01 bits; Page Up/Down: 0.1."));
    slider_->installEventFilter(this);
    spin_ = new QDoubleSpinBox(this);
    spin_->setDecimals(3);
    spin_->setSingleStep(0.01);
    spin_->setSuffix(tr(" bits"));
    spin_->setKeyboardTracking(false);  // solve on Enter/focus-out, not on every typed digit
    size_ = new QLineEdit(this);
    size_->setMinimumWidth(90);
    size_->setMaximumWidth(120);
    size_->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    size_->setToolTip(tr("Size of the exported model file at this budget (unquantized tensors included). Type a "
                         "size to fit (70 MB, 1.2 GB or bytes) and press Enter."));
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
    connect(size_, &QLineEdit::returnPressed, this, &BudgetPanel::sizeEntered);
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

bool BudgetPanel::eventFilter(QObject* watched, QEvent* event) {
    if (watched == slider_ && event->type() == QEvent::KeyPress) {
        switch (static_cast<QKeyEvent*>(event)->key()) {
        case Qt::Key_Right:
        case Qt::Key_Up: step(kFineStep); return true;
        case Qt::Key_Left:
        case Qt::Key_Down: step(-kFineStep); return true;
        case Qt::Key_PageUp: step(kCoarseStep); return true;
        case Qt::Key_PageDown: step(-kCoarseStep); return true;
        default: break;
        }
    }
    return QWidget::eventFilter(watched, event);
}

// Exact steps of the budget (the slider's own steps are a thousandth of the range).
void BudgetPanel::step(double delta) {
    const double bits = std::clamp(budget() + delta, min_, max_);
    setBudget(bits);
    Q_EMIT budgetRequested(spin_->value());
}

qint64 BudgetPanel::parseSize(const QString& text) {
    static const QRegularExpression re(QStringLiteral("^\\s*([0-9]+(?:[.,][0-9]+)?)\\s*([kmgt]?b)?\\s*$"),
                                       QRegularExpression::CaseInsensitiveOption);
    const auto m = re.match(text);
    if (!m.hasMatch()) return 0;
    QString number = m.captured(1);
    number.replace(QLatin1Char(','), QLatin1Char('.'));
    const double value = number.toDouble();
    const QString unit = m.captured(2).toUpper();
    double scale = 1;
    if (unit == QLatin1String("KB")) scale = 1e3;
    else if (unit == QLatin1String("MB")) scale = 1e6;
    else if (unit == QLatin1String("GB")) scale = 1e9;
    else if (unit == QLatin1String("TB")) scale = 1e12;
    return static_cast<qint64>(std::llround(value * scale));
}

void BudgetPanel::sizeEntered() {
    const qint64 bytes = parseSize(size_->text());
    if (bytes <= 0) {
        showError(tr("'%1' is not a size: type e.g. 70 MB, 1.2 GB or a number of bytes").arg(size_->text()));
        return;
    }
    Q_EMIT sizeRequested(bytes);
}

void BudgetPanel::showSolution(std::shared_ptr<const Solution> solution) {
    if (!solution || !solution->current) return;
    const auto& a = *solution->current;
    const QLocale locale;
    size_->setText(locale.formattedDataSize(a.total_bytes, 2, QLocale::DataSizeSIFormat));
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
