#include "ui/views/heatmap_view.h"
#include "ui/views/figure_export.h"

#include <QFile>
#include <QFileInfo>
#include <QGridLayout>
#include <QLabel>
#include <QLocale>
#include <QPainter>
#include <QSvgGenerator>
#include <QTextStream>

#include "core/analysis/summary.h"
#include "core/util/error.h"
#include "ui/views/heatmap_plot.h"

namespace scalebits::ui {

HeatmapView::HeatmapView(QWidget* parent) : QWidget(parent) {
    auto* grid = new QGridLayout(this);
    grid->setContentsMargins(4, 4, 4, 4);
    grid->setSpacing(2);
    title_ = new QLabel(this);
    title_->setTextFormat(Qt::RichText);
    title_->setWordWrap(true);
    grid->addWidget(title_, 0, 0, 1, 3);
    const QString columns[] = {tr("Original layout"), tr("Reordered layout")};
    const QString rows[] = {tr("Sensitivity"), tr("Allocated width")};
    for (int c = 0; c < 2; ++c) {
        auto* header = new QLabel(QStringLiteral("<b>%1</b>").arg(columns[c]), this);
        header->setAlignment(Qt::AlignCenter);
        grid->addWidget(header, 1, c + 1);
    }
    for (int r = 0; r < 2; ++r) {
        auto* label = new QLabel(QStringLiteral("<b>%1</b>").arg(rows[r]), this);
        label->setAlignment(Qt::AlignCenter);
        label->setMinimumWidth(16);
        // Vertical row captions would need a custom painter; a short caption above keeps it simple.
        label->setWordWrap(true);
        label->setFixedWidth(70);
        grid->addWidget(label, r + 2, 0);
        for (int c = 0; c < 2; ++c) {
            auto* plot = new HeatmapPlot(r == 0 ? HeatmapPlot::Mode::Sensitivity : HeatmapPlot::Mode::Width, c == 1, this);
            plot->setMinimumSize(220, 160);
            plots_[std::size_t(r * 2 + c)] = plot;
            grid->addWidget(plot, r + 2, c + 1);
            if (r == 1)
                connect(plot, &HeatmapPlot::cellClicked, this,
                        [this, plot](int row, int col, Qt::MouseButton button, QPoint at) {
                            Q_EMIT tileClicked(matrix_, qint64(row) * plot->gridCols() + col, plot->reordered(), button, at);
                        });
        }
    }
    grid->setRowStretch(2, 1);
    grid->setRowStretch(3, 1);
    grid->setColumnStretch(1, 1);
    grid->setColumnStretch(2, 1);
    updateTitle();
}

void HeatmapView::setAnalysis(std::shared_ptr<const analysis::Analysis> analysis) {
    analysis_ = std::move(analysis);
    solution_.reset();
    setMatrix(analysis_ && !analysis_->matrices.empty() ? 0 : -1);
}

void HeatmapView::setMatrix(int index) {
    matrix_ = index;
    for (auto* p : plots_) p->setMatrix(analysis_, index);
    // One color range for both layouts: the same mass must have the same color left and right.
    QCPRange range = plots_[0]->dataRange();
    range.expand(plots_[1]->dataRange());
    plots_[0]->setDataRange(range);
    plots_[1]->setDataRange(range);
    if (solution_) setSolution(solution_);
    updateTitle();
}

void HeatmapView::setSolution(std::shared_ptr<const Solution> solution) {
    solution_ = std::move(solution);
    if (!solution_) return;
    std::map<std::int64_t, int> pins;
    if (solution_->tile_pins && analysis_ && matrix_ >= 0)
        if (const auto it = solution_->tile_pins->find(analysis_->matrices[std::size_t(matrix_)].name); it != solution_->tile_pins->end())
            pins = it->second;
    for (auto* p : plots_) p->setPins(pins);
    plots_[2]->setWidths(solution_->original_layout, solution_->tile_offsets);
    plots_[3]->setWidths(solution_->reordered_layout, solution_->tile_offsets);
}

void HeatmapView::resetZoom() {
    for (auto* p : plots_) p->resetView();
}

void HeatmapView::updateTitle() {
    if (!analysis_ || matrix_ < 0) {
        title_->setText(tr("<i>Open an analysis to see its heatmaps.</i>"));
        return;
    }
    const auto& m = analysis_->matrices[std::size_t(matrix_)];
    const QLocale locale;
    title_->setText(tr("<b>%1</b> &nbsp; %2 × %3 weights, %4 × %5 tiles of %6 × %7 — top 10% of tiles hold "
                       "%8% of the mass before reordering, %9% after")
                        .arg(QString::fromStdString(m.name))
                        .arg(m.rows())
                        .arg(m.cols())
                        .arg(m.grid_rows())
                        .arg(m.grid_cols())
                        .arg(m.tile_rows())
                        .arg(m.tile_cols())
                        .arg(locale.toString(m.top10_share_before * 100.0, 'f', 1),
                             locale.toString(m.top10_share_after * 100.0, 'f', 1)));
}

void HeatmapView::exportImage(const QString& path) const { saveFigureImage(const_cast<HeatmapView*>(this), path); }

void HeatmapView::exportCsv(const QString& path) const {
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text))
        throw InputError(path.toStdString(), "cannot write: " + file.errorString().toStdString());
    if (!analysis_ || matrix_ < 0) return;
    QTextStream out(&file);
    const auto& m = analysis_->matrices[std::size_t(matrix_)];
    out << "matrix,layout,tile_row,tile_col,row_begin,row_end,col_begin,col_end,fisher";
    for (int b : analysis_->widths) out << ",S_" << b;
    out << ",width\n";
    for (int layout = 0; layout < 2; ++layout) {
        const HeatmapPlot* widths = plots_[std::size_t(2 + layout)];
        for (std::int64_t r = 0; r < m.grid_rows(); ++r)
            for (std::int64_t c = 0; c < m.grid_cols(); ++c) {
                const auto info = analysis::tile_info(*analysis_, m, r, c, layout == 1);
                out << QString::fromStdString(m.name) << ',' << (layout ? "reordered" : "original") << ',' << r << ','
                    << c << ',' << info.row_begin << ',' << info.row_end << ',' << info.col_begin << ',' << info.col_end
                    << ',' << QString::number(info.fisher, 'g', 17);
                for (double s : info.S) out << ',' << QString::number(s, 'g', 17);
                const double w = widths->cellValue(int(r), int(c));
                out << ',' << (w == w ? QString::number(w) : QString()) << '\n';  // empty when not allocated
            }
    }
    if (out.status() != QTextStream::Ok) throw InputError(path.toStdString(), "write failed");
}

}  // namespace scalebits::ui
