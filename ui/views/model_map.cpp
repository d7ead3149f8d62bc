#include "ui/views/model_map.h"
#include "ui/views/figure_export.h"

#include <QComboBox>
#include <QVBoxLayout>

#include <cmath>
#include <limits>

#include "core/analysis/summary.h"

namespace scalebits::ui {

namespace {
constexpr int kLinearColumns = 7;  // q k v o gate up down
// Column labels short enough to stand side by side ("embed_tokens" would not).
const char* const kShortKind[] = {"q", "k", "v", "o", "gate", "up", "down", "embed", "lm_head"};
// Shares below this (percent) are drawn at it: the scale is logarithmic, so one dominant matrix
// does not flatten the rest to a single colour.
constexpr double kShareFloor = 1e-3;
}  // namespace

ModelMap::ModelMap(QWidget* parent) : QWidget(parent) {
    colourBox_ = new QComboBox(this);
    colourBox_->addItem(tr("Colour: share of sensitivity"));
    colourBox_->addItem(tr("Colour: average bits"));
    plot_ = new QCustomPlot(this);
    plot_->setMinimumHeight(160);
    map_ = new QCPColorMap(plot_->xAxis, plot_->yAxis);
    scale_ = new QCPColorScale(plot_);
    plot_->plotLayout()->addElement(0, 1, scale_);
    map_->setColorScale(scale_);
    map_->setInterpolate(false);
    plot_->yAxis->setRangeReversed(true);  // layer 0 at the top, as in the layer table
    plot_->xAxis->setTickLabelRotation(45);
    plot_->xAxis->grid()->setVisible(false);
    plot_->yAxis->grid()->setVisible(false);
    plot_->yAxis->setLabel(tr("layer"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(colourBox_);
    layout->addWidget(plot_, 1);
    connect(colourBox_, &QComboBox::currentIndexChanged, this,
            [this](int i) { setColour(i == 0 ? Colour::Sensitivity : Colour::Bits); });
    connect(plot_, &QCustomPlot::mousePress, this, &ModelMap::clicked);
    addFigureMenu(plot_, QStringLiteral("model-map"), [this] { return csv(); });
}

QString ModelMap::csv() const {
    QString out = QStringLiteral("layer,kind,matrix,%1\n")
                      .arg(colour_ == Colour::Sensitivity ? QStringLiteral("percent_of_sensitivity") : QStringLiteral("avg_bits"));
    for (int r = 0; r < rows_; ++r)
        for (int c = 0; c < columns_; ++c) {
            const int m = matrixAt(r, c);
            if (m < 0) continue;
            const auto& mx = analysis_->matrices[std::size_t(m)];
            out += QStringLiteral("%1,%2,%3,%4\n")
                       .arg(mx.layer)
                       .arg(QString::fromLatin1(analysis::matrix_kind_name(mx.kind)), QString::fromStdString(mx.name))
                       .arg(cellValue(r, c), 0, 'g', 10);
        }
    return out;
}

void ModelMap::setAnalysis(std::shared_ptr<const analysis::Analysis> analysis) {
    analysis_ = std::move(analysis);
    solution_.reset();
    shares_ = analysis_ ? analysis::sensitivity_shares(*analysis_) : std::vector<double>{};
    bool vocab = false;
    int layers = 0;
    if (analysis_) {
        layers = analysis_->config.n_layers;
        for (const auto& m : analysis_->matrices) vocab = vocab || analysis::is_vocab_kind(m.kind);
    }
    rows_ = layers + (vocab ? 1 : 0);
    columns_ = kLinearColumns + (vocab ? 2 : 0);
    cells_.assign(std::size_t(rows_) * std::size_t(columns_), -1);
    if (analysis_)
        for (std::size_t i = 0; i < analysis_->matrices.size(); ++i) {
            const auto& m = analysis_->matrices[i];
            const int row = analysis::is_vocab_kind(m.kind) ? layers : m.layer;
            if (row >= 0 && row < rows_ && m.kind < columns_) cells_[std::size_t(row * columns_ + m.kind)] = int(i);
        }
    auto kinds = QSharedPointer<QCPAxisTickerText>::create();
    for (int c = 0; c < columns_; ++c) kinds->addTick(c, QString::fromLatin1(kShortKind[c]));
    plot_->xAxis->setTicker(kinds);
    auto layerTicks = QSharedPointer<QCPAxisTickerText>::create();
    const int every = std::max(1, (layers + 9) / 10);  // about ten labels, readable at 80 layers
    for (int r = 0; r < layers; r += every) layerTicks->addTick(r, QString::number(r));
    if (vocab) layerTicks->addTick(layers, tr("vocab"));
    plot_->yAxis->setTicker(layerTicks);
    map_->data()->setSize(std::max(columns_, 1), std::max(rows_, 1));
    map_->data()->setRange(QCPRange(0, std::max(columns_ - 1, 1)), QCPRange(0, std::max(rows_ - 1, 1)));
    plot_->xAxis->setRange(-0.5, columns_ - 0.5);
    plot_->yAxis->setRange(-0.5, rows_ - 0.5);
    fill();
}

void ModelMap::showSolution(std::shared_ptr<const Solution> solution) {
    solution_ = std::move(solution);
    if (colour_ == Colour::Bits) fill();
}

void ModelMap::setColour(Colour colour) {
    colour_ = colour;
    const QSignalBlocker block(colourBox_);
    colourBox_->setCurrentIndex(colour == Colour::Sensitivity ? 0 : 1);
    fill();
}

int ModelMap::matrixAt(int row, int column) const {
    if (row < 0 || row >= rows_ || column < 0 || column >= columns_) return -1;
    return cells_[std::size_t(row * columns_ + column)];
}

double ModelMap::cellValue(int row, int column) const {
    const int m = matrixAt(row, column);
    if (m < 0) return std::numeric_limits<double>::quiet_NaN();
    if (colour_ == Colour::Sensitivity) return std::max(kShareFloor, 100.0 * shares_[std::size_t(m)]);  // percent
    if (!solution_ || std::size_t(m) >= solution_->summary.matrices.size()) return std::numeric_limits<double>::quiet_NaN();
    return solution_->summary.matrices[std::size_t(m)].avg_bits;
}

QPoint ModelMap::cellCenter(int row, int column) const {
    return QPoint(int(std::lround(plot_->xAxis->coordToPixel(column))), int(std::lround(plot_->yAxis->coordToPixel(row))));
}

void ModelMap::fill() {
    for (int r = 0; r < rows_; ++r)
        for (int c = 0; c < columns_; ++c) map_->data()->setCell(c, r, cellValue(r, c));
    QCPColorGradient g(colour_ == Colour::Sensitivity ? QCPColorGradient::gpThermal : QCPColorGradient::gpSpectrum);
    g.setNanHandling(QCPColorGradient::nhTransparent);
    map_->setGradient(g);
    map_->setDataScaleType(colour_ == Colour::Sensitivity ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    scale_->axis()->setTicker(colour_ == Colour::Sensitivity ? QSharedPointer<QCPAxisTicker>(new QCPAxisTickerLog)
                                                             : QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    map_->rescaleDataRange(true);
    scale_->axis()->setLabel(colour_ == Colour::Sensitivity ? tr("% of sensitivity") : tr("average bits"));
    plot_->replot(QCustomPlot::rpQueuedRefresh);
}

void ModelMap::clicked(QMouseEvent* event) {
    const int column = int(std::lround(plot_->xAxis->pixelToCoord(event->position().x())));
    const int row = int(std::lround(plot_->yAxis->pixelToCoord(event->position().y())));
    const int m = matrixAt(row, column);
    if (m >= 0) Q_EMIT matrixClicked(m);
}

}  // namespace scalebits::ui
