#include "ui/views/rate_quality_plot.h"
#include "ui/views/figure_export.h"

namespace scalebits::ui {
namespace {
QColor methodColor(const QString& method) {
    if (method == QLatin1String("scalebits")) return QColor(0xd7, 0x30, 0x27);
    if (method == QLatin1String("tile-noreorder")) return QColor(0xf4, 0x6d, 0x43);
    if (method == QLatin1String("layer")) return QColor(0x45, 0x75, 0xb4);
    if (method == QLatin1String("uniform")) return QColor(0x55, 0x55, 0x55);
    return QColor(0x1a, 0x98, 0x50);
}
}  // namespace

RateQualityPlot::RateQualityPlot(QWidget* parent) : QCustomPlot(parent) {
    xAxis->setLabel(tr("average bits per weight"));
    yAxis->setLabel(tr("predicted loss increase"));
    yAxis->setScaleType(QCPAxis::stLogarithmic);
    yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    yAxis->setNumberFormat(QStringLiteral("eb"));
    yAxis->setNumberPrecision(0);
    legend->setVisible(true);
    legend->setFont(QFont(font().family(), 8));
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    plotLayout()->insertRow(0);
    plotLayout()->addElement(0, 0, new QCPTextElement(this, tr("Rate–quality"), QFont(font().family(), 9, QFont::Bold)));
    marker_ = new QCPItemStraightLine(this);
    marker_->setPen(QPen(Qt::darkGray, 1, Qt::DashLine));
    marker_->point1->setCoords(4, 1);
    marker_->point2->setCoords(4, 2);
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    addFigureMenu(this, QStringLiteral("rate-quality"), [this] { return csv(); });
}

QString RateQualityPlot::csv() const {
    QString out = QStringLiteral("kind,method,avg_bits,value\n");
    for (int i = 0; i < graphCount(); ++i) {
        const QCPGraph* g = graph(i);
        if (g == current_ || g->name().isEmpty()) continue;  // the marker of the budget on screen
        for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
            out += QStringLiteral("predicted_loss,%1,%2,%3\n").arg(g->name()).arg(it->key, 0, 'g', 10).arg(it->value, 0, 'g', 10);
    }
    for (const auto& m : measured_)
        out += QStringLiteral("measured_ppl,%1,%2,%3\n").arg(m.method).arg(m.bits, 0, 'g', 10).arg(m.ppl, 0, 'g', 10);
    return out;
}

void RateQualityPlot::showCurves(std::shared_ptr<const RateQuality> curves) {
    clearGraphs();
    current_ = nullptr;
    if (!curves) return;
    for (const auto& c : curves->curves) {
        auto* g = addGraph();
        g->setName(c.method);
        g->setPen(QPen(methodColor(c.method), c.method == QLatin1String("scalebits") ? 2.2 : 1.4));
        g->setData(c.avg_bits, c.predicted_loss, true);
        if (c.method == QLatin1String("uniform")) {
            // Only whole widths are reachable: points, since a line would suggest sizes in between.
            g->setLineStyle(QCPGraph::lsNone);
            g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, methodColor(c.method), 6));
        }
    }
    current_ = addGraph();
    current_->setLineStyle(QCPGraph::lsNone);
    current_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, Qt::black, Qt::white, 7));
    current_->removeFromLegend();
    rescaleAxes();
    drawMeasurements();
    if (last_) showSolution(last_);
    replot(rpQueuedRefresh);
}

void RateQualityPlot::showSolution(std::shared_ptr<const Solution> solution) {
    if (!solution || !solution->current) return;
    last_ = solution;
    marker_->point1->setCoords(solution->current->avg_bits, 1);
    marker_->point2->setCoords(solution->current->avg_bits, 2);
    if (current_ && solution->current->predicted_loss > 0.0)
        current_->setData(QVector<double>{solution->current->avg_bits}, QVector<double>{solution->current->predicted_loss});
    replot(rpQueuedRefresh);
}

void RateQualityPlot::addMeasurement(const QString& method, double avg_bits, double ppl) {
    measured_.push_back({method, avg_bits, ppl});
    drawMeasurements();
    replot(rpQueuedRefresh);
}

void RateQualityPlot::clearMeasurements() {
    measured_.clear();
    drawMeasurements();
    replot(rpQueuedRefresh);
}

int RateQualityPlot::measurementCount() const { return static_cast<int>(measured_.size()); }

void RateQualityPlot::drawMeasurements() {
    for (int i = graphCount() - 1; i >= 0; --i)
        if (graph(i)->valueAxis() == yAxis2) removeGraph(i);
    yAxis2->setVisible(!measured_.isEmpty());
    if (measured_.isEmpty()) return;
    yAxis2->setLabel(tr("measured perplexity"));
    QHash<QString, QCPGraph*> byMethod;
    double lo = measured_.front().ppl, hi = lo;
    for (const auto& m : measured_) {
        QCPGraph*& g = byMethod[m.method];
        if (!g) {
            g = addGraph(xAxis, yAxis2);
            g->setName(tr("%1 (measured ppl)").arg(m.method));
            g->setLineStyle(QCPGraph::lsNone);
            g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCross, methodColor(m.method), 9));
        }
        g->addData(m.bits, m.ppl);
        lo = std::min(lo, m.ppl);
        hi = std::max(hi, m.ppl);
    }
    yAxis2->setRange(lo * 0.95, hi * 1.05 + 1e-9);
}

}  // namespace scalebits::ui
