#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLoggingCategory>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStatusBar>
#include <QTableView>
#include <QVBoxLayout>
#include <QtConcurrent>

#include "core/analysis/analysis_file.h"
#include "ui/models/layer_table_model.h"
#include "ui/views/about_dialog.h"
#include "ui/views/budget_panel.h"
#include "ui/views/heatmap_view.h"
#include "ui/views/rate_quality_plot.h"
#include "ui/views/width_histogram.h"

Q_LOGGING_CATEGORY(lcWindow, "scalebits.ui.window")

namespace scalebits::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(tr("ScaleBITS explorer"));
    setWindowIcon(QIcon(QStringLiteral(":/icons/scalebits.svg")));
    setAcceptDrops(true);
    controller_ = new AllocationController(this);

    heatmaps_ = new HeatmapView(this);
    histogram_ = new WidthHistogram(this);
    rateQuality_ = new RateQualityPlot(this);

    auto* bottom = new QSplitter(Qt::Horizontal, this);
    bottom->addWidget(histogram_);
    bottom->addWidget(rateQuality_);
    bottom->setStretchFactor(0, 2);
    bottom->setStretchFactor(1, 3);

    vsplit_ = new QSplitter(Qt::Vertical, this);
    vsplit_->addWidget(heatmaps_);
    vsplit_->addWidget(bottom);
    vsplit_->setStretchFactor(0, 3);
    vsplit_->setStretchFactor(1, 2);

    hsplit_ = new QSplitter(Qt::Horizontal, this);
    hsplit_->addWidget(createLeftPane());
    hsplit_->addWidget(vsplit_);
    hsplit_->setStretchFactor(0, 2);
    hsplit_->setStretchFactor(1, 5);
    setCentralWidget(hsplit_);
    // First-start proportions (restoreState below replaces them once the user has moved them).
    hsplit_->setSizes({610, 890});
    vsplit_->setSizes({600, 320});
    createActions();
    statusBar()->showMessage(tr("Open an analysis file (Ctrl+O) or drop one here."));

    connect(budget_, &BudgetPanel::budgetRequested, controller_, &AllocationController::setBudget);
    connect(budget_, &BudgetPanel::methodRequested, controller_, &AllocationController::setMethod);
    connect(controller_, &AllocationController::solutionChanged, this, &MainWindow::showSolution);
    connect(controller_, &AllocationController::rateQualityChanged, rateQuality_, &RateQualityPlot::showCurves);
    connect(controller_, &AllocationController::errorOccurred, budget_, &BudgetPanel::showError);
    connect(controller_, &AllocationController::analysisReady, this, [this] {
        budget_->setRange(controller_->minBits(), controller_->maxBits());
        budget_->setBudget(controller_->budget());
    });

    resize(1500, 950);
    restoreGeometry(settings_.windowGeometry());
    restoreState(settings_.windowState());
    hsplit_->restoreState(settings_.splitterState(QStringLiteral("main")));
    vsplit_->restoreState(settings_.splitterState(QStringLiteral("plots")));
    const QString method = settings_.lastMethod();
    if (AllocationController::methodNames().contains(method)) {
        budget_->setMethod(method);
        controller_->setMethod(method);
    }
    controller_->setBudget(settings_.lastBudget());
}

MainWindow::~MainWindow() = default;

QWidget* MainWindow::createLeftPane() {
    auto* pane = new QWidget(this);
    auto* layout = new QVBoxLayout(pane);
    layout->setContentsMargins(0, 0, 0, 0);
    budget_ = new BudgetPanel(pane);
    layout->addWidget(budget_);

    filter_ = new QLineEdit(pane);
    filter_->setPlaceholderText(tr("Filter matrices (e.g. down_proj, layers.3.)"));
    filter_->setClearButtonEnabled(true);
    layout->addWidget(filter_);

    layers_ = new LayerTableModel(this);
    proxy_ = new QSortFilterProxyModel(this);
    proxy_->setSourceModel(layers_);
    proxy_->setSortRole(LayerTableModel::SortRole);
    proxy_->setFilterKeyColumn(LayerTableModel::Matrix);
    proxy_->setFilterRole(Qt::ToolTipRole);  // the full weight name: filters by layer and kind alike
    proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
    connect(filter_, &QLineEdit::textChanged, proxy_, &QSortFilterProxyModel::setFilterFixedString);

    table_ = new QTableView(pane);
    table_->setModel(proxy_);
    table_->setSortingEnabled(true);
    table_->sortByColumn(-1, Qt::AscendingOrder);  // analysis order until the user picks a column
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setAlternatingRowColors(true);
    table_->verticalHeader()->hide();
    table_->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
    // Columns are sized once per analysis (showSolution): ResizeToContents would measure every row
    // again on each slider move, which costs more than the whole re-solve.
    table_->horizontalHeader()->setStretchLastSection(true);
    layout->addWidget(table_, 1);
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex& current) { selectMatrix(current); });
    return pane;
}

void MainWindow::createActions() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    auto* open = file->addAction(QIcon(QStringLiteral(":/icons/open.svg")), tr("&Open analysis…"), this, &MainWindow::openDialog);
    open->setShortcut(QKeySequence::Open);
    recentMenu_ = file->addMenu(tr("Open &recent"));
    updateRecentMenu();
    file->addSeparator();
    auto* png = file->addAction(QIcon(QStringLiteral(":/icons/export.svg")), tr("&Export heatmaps as image…"), this, &MainWindow::exportImage);
    png->setShortcut(QKeySequence(tr("Ctrl+E")));
    auto* csv = file->addAction(tr("Export heatmap &data as CSV…"), this, &MainWindow::exportCsv);
    csv->setShortcut(QKeySequence(tr("Ctrl+Shift+E")));
    file->addSeparator();
    auto* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* budget = menuBar()->addMenu(tr("&Budget"));
    auto* up = budget->addAction(tr("&More bits (+0.05)"), this, [this] { nudgeBudget(0.05); });
    up->setShortcut(QKeySequence(tr("Ctrl+Up")));
    auto* down = budget->addAction(tr("&Fewer bits (−0.05)"), this, [this] { nudgeBudget(-0.05); });
    down->setShortcut(QKeySequence(tr("Ctrl+Down")));
    auto* focus = budget->addAction(tr("&Enter budget…"), this, [this] { budget_->spinBox()->setFocus(); budget_->spinBox()->selectAll(); });
    focus->setShortcut(QKeySequence(tr("Ctrl+B")));
    budget->addSeparator();
    evaluateAction_ = budget->addAction(tr("E&valuate at this budget"));
    evaluateAction_->setEnabled(false);
    evaluateAction_->setToolTip(tr("Measured perplexity needs the model and the evaluation worker, which the explorer "
                                   "does not run yet; use scalebits-cli eval meanwhile."));
    budget->setToolTipsVisible(true);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    auto* reset = view->addAction(tr("&Reset heatmap zoom"), heatmaps_, &HeatmapView::resetZoom);
    reset->setShortcut(QKeySequence(tr("Ctrl+0")));
    auto* find = view->addAction(tr("&Filter matrices"), this, [this] { filter_->setFocus(); filter_->selectAll(); });
    find->setShortcut(QKeySequence::Find);

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About ScaleBITS"), this, [this] { showAboutDialog(this); });
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::setAnalysis(std::shared_ptr<const analysis::Analysis> analysis, const QString& source) {
    source_ = source;
    layers_->setAnalysis(analysis);
    sizeColumns_ = true;
    heatmaps_->setAnalysis(analysis);
    controller_->setAnalysis(analysis);
    if (analysis && !analysis->matrices.empty()) table_->selectRow(0);
    if (analysis) {
        setWindowTitle(tr("%1 — ScaleBITS explorer").arg(QFileInfo(source).fileName()));
        statusBar()->showMessage(tr("%1: %2 matrices, %3 tiles · preparing the allocators…")
                                     .arg(source)
                                     .arg(analysis->matrices.size())
                                     .arg(analysis->total_tiles()));
    }
}

void MainWindow::openFile(const QString& path) {
    statusBar()->showMessage(tr("Loading %1…").arg(path));
    QtConcurrent::run([path]() -> std::pair<std::shared_ptr<const analysis::Analysis>, QString> {
        try {
            return {std::make_shared<const analysis::Analysis>(analysis::load_analysis(path.toStdString())), {}};
        } catch (const std::exception& e) {
            return {nullptr, QString::fromStdString(e.what())};
        }
    }).then(this, [this, path](std::pair<std::shared_ptr<const analysis::Analysis>, QString> result) {
        if (!result.first) {
            settings_.removeRecentFile(path);
            updateRecentMenu();
            statusBar()->clearMessage();
            Q_EMIT fileFailed(result.second);
            if (!QCoreApplication::closingDown() && isVisible())
                QMessageBox::warning(this, tr("Cannot open the file"),
                                     tr("%1\n\nOpen an analysis file written by `scalebits-cli analyze` "
                                        "(model files cannot be analyzed from the explorer yet).")
                                         .arg(result.second));
            return;
        }
        settings_.addRecentFile(path);
        updateRecentMenu();
        setAnalysis(result.first, path);
    });
}

void MainWindow::openDialog() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open analysis"), QString(),
                                                      tr("Analysis files (*.safetensors *.analysis);;All files (*)"));
    if (!path.isEmpty()) openFile(path);
}

void MainWindow::updateRecentMenu() {
    recentMenu_->clear();
    const QStringList files = settings_.recentFiles();
    for (const QString& f : files) recentMenu_->addAction(QFileInfo(f).fileName(), this, [this, f] { openFile(f); })->setToolTip(f);
    recentMenu_->setEnabled(!files.isEmpty());
}

void MainWindow::selectMatrix(const QModelIndex& proxyIndex) {
    if (!proxyIndex.isValid()) return;
    heatmaps_->setMatrix(proxy_->data(proxyIndex, LayerTableModel::MatrixIndexRole).toInt());
}

void MainWindow::showSolution(std::shared_ptr<const Solution> solution) {
    heatmaps_->setSolution(solution);
    histogram_->showSolution(solution);
    rateQuality_->showSolution(solution);
    budget_->showSolution(solution);
    layers_->setSummary(solution->summary);
    if (sizeColumns_) {
        table_->resizeColumnsToContents();
        sizeColumns_ = false;
    }
    const QLocale locale;
    statusBar()->showMessage(tr("%1 · %2 at %3 bits/weight → %4")
                                 .arg(source_, controller_->method(), locale.toString(solution->budget_bits, 'f', 3),
                                      locale.formattedDataSize(solution->current->total_bytes, 2, QLocale::DataSizeSIFormat)));
}

void MainWindow::nudgeBudget(double delta) {
    const double bits = std::clamp(budget_->budget() + delta, controller_->minBits(), controller_->maxBits());
    budget_->setBudget(bits);
    controller_->setBudget(bits);
}

void MainWindow::exportImage() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export heatmaps"), QStringLiteral("heatmaps.png"),
                                                      tr("PNG image (*.png);;SVG drawing (*.svg)"));
    if (path.isEmpty()) return;
    try {
        heatmaps_->exportImage(path);
    } catch (const std::exception& e) {
        QMessageBox::warning(this, tr("Export failed"), QString::fromStdString(e.what()));
    }
}

void MainWindow::exportCsv() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export heatmap data"), QStringLiteral("tiles.csv"),
                                                      tr("CSV (*.csv)"));
    if (path.isEmpty()) return;
    try {
        heatmaps_->exportCsv(path);
    } catch (const std::exception& e) {
        QMessageBox::warning(this, tr("Export failed"), QString::fromStdString(e.what()));
    }
}

void MainWindow::closeEvent(QCloseEvent* event) {
    settings_.setWindowGeometry(saveGeometry());
    settings_.setWindowState(saveState());
    settings_.setSplitterState(QStringLiteral("main"), hsplit_->saveState());
    settings_.setSplitterState(QStringLiteral("plots"), vsplit_->saveState());
    settings_.setLastBudget(controller_->budget());
    settings_.setLastMethod(controller_->method());
    QMainWindow::closeEvent(event);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    const auto urls = event->mimeData()->urls();
    if (urls.size() == 1 && urls.front().isLocalFile()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const auto urls = event->mimeData()->urls();
    if (urls.size() == 1 && urls.front().isLocalFile()) {
        openFile(urls.front().toLocalFile());
        event->acceptProposedAction();
    }
}

}  // namespace scalebits::ui
