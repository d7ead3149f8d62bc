#include "ui/views/width_histogram.h"
#include "ui/views/figure_export.h"

namespace scalebits::ui {

namespace {
constexpr double kFp16Bar = 9.0;  // where the "kept at fp16" bar stands on the axis
}  // namespace

WidthHistogram::WidthHistogram(QWidget* parent) : QCustomPlot(parent) {
    bars_ = new QCPBars(xAxis, yAxis);
    bars_->setWidth(0.7);
    bars_->setPen(QPen(QColor(0x45, 0x75, 0xb4)));
    bars_->setBrush(QColor(0x74, 0xad, 0xd1));
    // Widths 2..8, and a ninth bar for tiles kept at fp16 (the embedding and lm_head of a whole-file
    // allocation).
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    for (int b = 2; b <= 8; ++b) ticker->addTick(b, QString::number(b));
    ticker->addTick(kFp16Bar, QStringLiteral("fp16"));
    xAxis->setTicker(ticker);
    xAxis->setRange(1.4, kFp16Bar + 0.6);
    xAxis->setLabel(tr("width (bits)"));
    yAxis->setLabel(tr("% of weights"));
    yAxis->setRange(0, 100);
    plotLayout()->insertRow(0);
    plotLayout()->addElement(0, 0, new QCPTextElement(this, tr("Width histogram"), QFont(font().family(), 9, QFont::Bold)));
    addFigureMenu(this, QStringLiteral("width-histogram"), [this] { return csv(); });
}

QString WidthHistogram::csv() const {
    QString out = QStringLiteral("width,percent_of_weights\n");
    for (auto it = bars_->data()->constBegin(); it != bars_->data()->constEnd(); ++it)
        out += (it->key == kFp16Bar ? QStringLiteral("fp16") : QString::number(it->key)) + QLatin1Char(',') +
               QString::number(it->value, 'g', 10) + QLatin1Char('\n');
    return out;
}

double WidthHistogram::barValue(int bits) const {
    const auto it = bars_->data()->findBegin(bits, false);
    return it != bars_->data()->constEnd() && it->key == bits ? it->value : 0.0;
}

void WidthHistogram::showSolution(std::shared_ptr<const Solution> solution) {
    if (!solution) return;
    QVector<double> keys, values;
    for (int b = 2; b <= 8; ++b) {
        keys << b;
        values << solution->summary.weight_share[std::size_t(b)] * 100.0;  // fraction to percent, for the axis
    }
    keys << kFp16Bar;
    values << solution->summary.weight_share[std::size_t(kKeptBits)] * 100.0;
    bars_->setData(keys, values, true);
    replot(rpQueuedRefresh);
}

}  // namespace scalebits::ui
