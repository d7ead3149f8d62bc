#include "ui/main_window.h"
#include "ui/views/figure_export.h"

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
#include <QMenu>
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
#include "core/util/default_paths.h"
#include "core/workflow/jobs.h"
#include "ui/controllers/background_job.h"
#include "ui/controllers/when_finished.h"
#include "ui/views/analyze_dialog.h"
#include "ui/views/export_dialog.h"
#include "ui/views/job_progress_dialog.h"
#include "ui/models/layer_table_model.h"
#include "ui/views/about_dialog.h"
#include "ui/views/budget_panel.h"
#include "ui/views/compare_dialog.h"
#include "ui/views/heatmap_view.h"
#include "ui/views/model_map.h"
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
    modelMap_ = new ModelMap(this);

    auto* bottom = new QSplitter(Qt::Horizontal, this);
    bottom->addWidget(modelMap_);
    bottom->addWidget(histogram_);
    bottom->addWidget(rateQuality_);
    bottom->setStretchFactor(0, 2);
    bottom->setStretchFactor(1, 2);
    bottom->setStretchFactor(2, 3);
    connect(modelMap_, &ModelMap::matrixClicked, this, &MainWindow::showMatrix);

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
    modelLabel_ = new QLabel(this);
    modelLabel_->setObjectName(QStringLiteral("modelLabel"));
    statusBar()->addPermanentWidget(modelLabel_);

    connect(budget_, &BudgetPanel::budgetRequested, controller_, &AllocationController::setBudget);
    connect(budget_, &BudgetPanel::methodRequested, controller_, &AllocationController::setMethod);
    connect(budget_, &BudgetPanel::sizeRequested, this, [this](qint64 bytes) {
        controller_->setBudgetBytes(bytes);
        budget_->setBudget(controller_->budget());
    });
    connect(controller_, &AllocationController::solutionChanged, this, &MainWindow::showSolution);
    connect(heatmaps_, &HeatmapView::tileClicked, this, &MainWindow::tileClicked);
    connect(controller_, &AllocationController::rateQualityChanged, rateQuality_, &RateQualityPlot::showCurves);
    connect(controller_, &AllocationController::errorOccurred, budget_, &BudgetPanel::showError);
    connect(controller_, &AllocationController::rangeChanged, this, [this](double lo, double hi) {
        budget_->setRange(lo, hi);
        budget_->setBudget(controller_->budget());  // the slider's position in the new range
    });
    connect(controller_, &AllocationController::analysisReady, this, [this] {
        budget_->setRange(controller_->minBits(), controller_->maxBits());
        budget_->setBudget(controller_->budget());
        std::vector<int> pinned;
        if (const TileProblem* p = controller_->problem(true))
            for (const auto& m : p->matrices) pinned.push_back(m.pinned_bits);
        layers_->setPinned(std::move(pinned));
        applyPendingWorkspace();
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
    table_->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(table_, &QWidget::customContextMenuRequested, this, &MainWindow::showPinMenu);
    return pane;
}

void MainWindow::createActions() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    auto* open = file->addAction(QIcon(QStringLiteral(":/icons/open.svg")), tr("&Open analysis…"), this, &MainWindow::openDialog);
    open->setShortcut(QKeySequence::Open);
    recentMenu_ = file->addMenu(tr("Open &recent"));
    updateRecentMenu();
    saveWorkspaceAction_ = file->addAction(tr("&Save workspace…"), this, &MainWindow::saveWorkspaceDialog);
    saveWorkspaceAction_->setShortcut(QKeySequence::Save);
    saveWorkspaceAction_->setEnabled(false);
    saveWorkspaceAction_->setToolTip(tr("The analysis, method, budget and pins as a small file to reopen here or "
                                        "to give to scalebits-cli export --workspace"));
    auto* analyze = file->addAction(tr("&Analyze a model…"), this, [this] { analyzeModel(); });
    analyze->setShortcut(QKeySequence(tr("Ctrl+Shift+O")));
    exportAction_ = file->addAction(tr("E&xport packed model…"), this, &MainWindow::showExportDialog);
    exportAction_->setShortcut(QKeySequence(tr("Ctrl+Shift+S")));
    exportAction_->setEnabled(false);
    file->addSeparator();
    // Every figure as PNG, SVG or its numbers as CSV (also each figure's context menu).
    figureMenu_ = file->addMenu(QIcon(QStringLiteral(":/icons/export.svg")), tr("&Export figure"));
    auto* png = figureMenu_->addAction(tr("&Heatmaps as image…"), this, &MainWindow::exportImage);
    png->setShortcut(QKeySequence(tr("Ctrl+E")));
    auto* csv = figureMenu_->addAction(tr("Heatmap &data as CSV…"), this, &MainWindow::exportCsv);
    csv->setShortcut(QKeySequence(tr("Ctrl+Shift+E")));
    figureMenu_->addSeparator();
    figureMenu_->addAction(tr("&Model map…"), this, [this] {
        exportFigureWithDialog(modelMap_->plot(), QStringLiteral("model-map"), [this] { return modelMap_->csv(); });
    });
    figureMenu_->addAction(tr("&Width histogram…"), this, [this] {
        exportFigureWithDialog(histogram_, QStringLiteral("width-histogram"), [this] { return histogram_->csv(); });
    });
    figureMenu_->addAction(tr("&Rate-quality plot…"), this, [this] {
        exportFigureWithDialog(rateQuality_, QStringLiteral("rate-quality"), [this] { return rateQuality_->csv(); });
    });
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
    evaluateAction_ = budget->addAction(tr("E&valuate at this budget"), this, &MainWindow::evaluateAtBudget);
    evaluateAction_->setShortcut(QKeySequence(tr("Ctrl+Shift+V")));
    evaluateAction_->setEnabled(false);
    evaluateAction_->setToolTip(tr("Fake-quantize the model with this allocation (RTN) and measure perplexity and KL "
                                   "on 8 windows of WikiText-2; the point joins the rate-quality plot."));
    budget->setToolTipsVisible(true);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    auto* compare = view->addAction(tr("&Compare allocations…"), this, [this] {
        if (!controller_->ready()) return;
        auto* dialog = new CompareDialog(controller_, heatmaps_->matrix(), this);
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        connect(modelMap_, &ModelMap::matrixClicked, dialog, &CompareDialog::setMatrix);
        dialog->show();
    });
    compare->setShortcut(QKeySequence(tr("Ctrl+Shift+C")));
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
    modelMap_->setAnalysis(analysis);
    controller_->setAnalysis(analysis);
    if (analysis && !analysis->matrices.empty()) table_->selectRow(0);
    // Export and evaluation need the model the analysis was made from.
    const bool hasModel = analysis && !analysis->file.empty() && std::filesystem::exists(analysis->model_path);
    exportAction_->setEnabled(hasModel);
    evaluateAction_->setEnabled(hasModel);
    saveWorkspaceAction_->setEnabled(analysis && !analysis->file.empty());
    rateQuality_->clearMeasurements();
    modelLabel_->setText(modelDescription());
    if (analysis) {
        setWindowTitle(tr("%1 (%2) — ScaleBITS explorer")
                           .arg(QFileInfo(source).fileName(), QString::fromLatin1(scalebits::model::family_name(analysis->config.family))));
        statusBar()->showMessage(tr("%1: %2 matrices, %3 tiles · preparing the allocators…")
                                     .arg(source)
                                     .arg(analysis->matrices.size())
                                     .arg(analysis->total_tiles()));
    }
}

QString MainWindow::modelDescription() const {
    const auto a = controller_->analysis();
    if (!a) return {};
    const auto& c = a->config;
    return tr("%1 · %2 layers · hidden %3")
        .arg(QString::fromStdString(scalebits::model::describe_family(c)))
        .arg(c.n_layers)
        .arg(c.dim);
}

void MainWindow::openFile(const QString& path) {
    const QFileInfo info(path);
    const QString ext = info.suffix().toLower();
    if (ext == QLatin1String("sbw")) {
        openWorkspace(path);
        return;
    }
    if (ext == QLatin1String("gguf") || ext == QLatin1String("bin") || (info.isDir() && QFileInfo::exists(path + QStringLiteral("/config.json")))) {
        analyzeModel(path);
        return;
    }
    statusBar()->showMessage(tr("Loading %1…").arg(path));
    auto work = QtConcurrent::run([path]() -> std::pair<std::shared_ptr<const analysis::Analysis>, QString> {
        try {
            return {std::make_shared<const analysis::Analysis>(analysis::load_analysis(path.toStdString())), {}};
        } catch (const std::exception& e) {
            return {nullptr, QString::fromStdString(e.what())};
        }
    });
    whenFinished(this, work, [this, path](std::pair<std::shared_ptr<const analysis::Analysis>, QString> result) {
        if (!result.first) {
            pendingWorkspace_.reset();  // a workspace whose analysis cannot be opened
            settings_.removeRecentFile(path);
            updateRecentMenu();
            statusBar()->clearMessage();
            Q_EMIT fileFailed(result.second);
            if (!QCoreApplication::closingDown() && isVisible())
                QMessageBox::warning(this, tr("Cannot open the file"),
                                     tr("%1\n\nOpen an analysis file (File > Open) or analyze a model "
                                        "(File > Analyze a model).")
                                         .arg(result.second));
            return;
        }
        settings_.addRecentFile(path);
        updateRecentMenu();
        setAnalysis(result.first, path);
    });
}

void MainWindow::openDialog() {
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Open analysis, workspace or model"), QString::fromStdString(default_analysis_folder().string()),
        tr("Analyses and workspaces (*.sba *.analysis *.safetensors *.sbw);;Models (*.gguf *.bin);;All files (*)"));
    if (!path.isEmpty()) openFile(path);
}

bool MainWindow::saveWorkspace(const QString& path) {
    const auto a = controller_->analysis();
    if (!a || a->file.empty()) return false;
    workflow::Workspace w;
    w.analysis = a->file;
    w.method = parse_alloc_method(controller_->method().toStdString());
    w.budget_bits = controller_->budget();
    w.options = controller_->constraints();
    try {
        workflow::save_workspace(w, path.toStdString());
    } catch (const std::exception& e) {
        QMessageBox::warning(this, tr("Cannot save the workspace"), QString::fromStdString(e.what()));
        return false;
    }
    settings_.addRecentFile(path);
    updateRecentMenu();
    statusBar()->showMessage(tr("Workspace saved as %1").arg(path));
    return true;
}

void MainWindow::saveWorkspaceDialog() {
    const auto a = controller_->analysis();
    if (!a || a->file.empty()) return;
    const QString suggested = QFileInfo(QString::fromStdString(a->file.string())).dir().filePath(
        QFileInfo(QString::fromStdString(a->file.string())).completeBaseName() + QStringLiteral(".sbw"));
    const QString path =
        QFileDialog::getSaveFileName(this, tr("Save workspace"), suggested, tr("ScaleBITS workspace (*.sbw)"));
    if (!path.isEmpty()) saveWorkspace(path);
}

void MainWindow::openWorkspace(const QString& path) {
    workflow::Workspace w;
    try {
        w = workflow::load_workspace(path.toStdString());
    } catch (const std::exception& e) {
        settings_.removeRecentFile(path);
        updateRecentMenu();
        Q_EMIT fileFailed(QString::fromStdString(e.what()));
        if (!QCoreApplication::closingDown() && isVisible())
            QMessageBox::warning(this, tr("Cannot open the workspace"), QString::fromStdString(e.what()));
        return;
    }
    settings_.addRecentFile(path);
    pendingWorkspace_ = w;
    awaitingConstraints_ = false;
    openFile(QString::fromStdString(w.analysis.string()));
}

void MainWindow::applyPendingWorkspace() {
    if (awaitingConstraints_) {  // the allocators now hold the workspace's constraints
        awaitingConstraints_ = false;
        Q_EMIT workspaceApplied();
        return;
    }
    if (!pendingWorkspace_) return;
    const workflow::Workspace w = *pendingWorkspace_;
    pendingWorkspace_.reset();
    const QString method = QString::fromLatin1(alloc_method_name(w.method));
    budget_->setMethod(method);
    controller_->setMethod(method);
    budget_->setBudget(w.budget_bits);
    controller_->setBudget(w.budget_bits);
    if (w.options.constraints.empty() && w.options.whole_file == controller_->constraints().whole_file) {
        Q_EMIT workspaceApplied();
        return;
    }
    awaitingConstraints_ = true;
    controller_->setConstraints(w.options);
}

void MainWindow::updateRecentMenu() {
    recentMenu_->clear();
    const QStringList files = settings_.recentFiles();
    for (const QString& f : files) recentMenu_->addAction(QFileInfo(f).fileName(), this, [this, f] { openFile(f); })->setToolTip(f);
    recentMenu_->setEnabled(!files.isEmpty());
}

void MainWindow::showMatrix(int matrix) {
    QModelIndex row = proxy_->mapFromSource(layers_->index(matrix, 0));
    if (!row.isValid()) {  // hidden by the filter: show every matrix again
        filter_->clear();
        row = proxy_->mapFromSource(layers_->index(matrix, 0));
    }
    if (!row.isValid()) return;
    table_->setCurrentIndex(row);
    table_->scrollTo(row);
}

void MainWindow::selectMatrix(const QModelIndex& proxyIndex) {
    if (!proxyIndex.isValid()) return;
    heatmaps_->setMatrix(proxy_->data(proxyIndex, LayerTableModel::MatrixIndexRole).toInt());
}

void MainWindow::showSolution(std::shared_ptr<const Solution> solution) {
    heatmaps_->setSolution(solution);
    histogram_->showSolution(solution);
    modelMap_->showSolution(solution);
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

void MainWindow::offerDefaultModel() {
    const QString model = QString::fromStdString(default_model_path().string());
    const QString saved = AnalyzeDialog::defaultOutput(model);
    if (QFileInfo::exists(saved)) {
        openFile(saved);
        return;
    }
    if (!QFileInfo::exists(model)) {
        statusBar()->showMessage(tr("Open an analysis (Ctrl+O) or analyze a model (Ctrl+Shift+O)."));
        return;
    }
    const auto answer = QMessageBox::question(
        this, tr("Analyze the default model?"),
        tr("No analysis is open. Analyze the default model, %1?\n\nIt runs in the background; the result is saved as "
           "%2 and opened here.")
            .arg(QFileInfo(model).fileName(), saved));
    if (answer == QMessageBox::Yes) analyzeModel(model);
}

void MainWindow::analyzeModel(const QString& model) {
    AnalyzeDialog dialog(model, this);
    if (dialog.exec() != QDialog::Accepted) return;
    const AnalyzeRequest request = dialog.request();
    auto result = std::make_shared<std::shared_ptr<const analysis::Analysis>>();
    auto work = [request, result](const Progress& p) {
        workflow::AnalyzeJob job;
        job.model = request.model.toStdString();
        if (!request.tokenizer.isEmpty()) job.tokenizer = request.tokenizer.toStdString();
        job.options = request.options;
        job.out = request.output.toStdString();
        // An earlier cancelled or crashed analysis with the same settings continues from the layers
        // it finished.
        job.stream.resume = true;
        *result = std::make_shared<const analysis::Analysis>(workflow::run_analyze(job, p).analysis);
    };
    runWithProgress(tr("Analyzing %1").arg(QFileInfo(request.model).fileName()), tr("Analysis failed"), work,
                    [this, result, request] {
                        settings_.addRecentFile(request.output);
                        updateRecentMenu();
                        setAnalysis(*result, request.output);
                    },
                    [this, request] {
                        statusBar()->showMessage(tr("Analysis cancelled; no analysis was saved. Its finished layers are "
                                                    "kept in %1.work, and analyzing again with the same settings "
                                                    "continues from them.")
                                                     .arg(request.output));
                    });
}

void MainWindow::showExportDialog() {
    const auto a = controller_->analysis();
    if (!a) return;
    const auto solution = controller_->solution();
    if (!solution) return;
    auto* dialog = new ExportDialog(a, solution->allocation(), solution->budget_bits, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->show();
}

void MainWindow::evaluateAtBudget() {
    const auto a = controller_->analysis();
    const auto solution = controller_->solution();
    if (!a || a->file.empty() || !solution) return;
    // The allocation on screen, as it is: no re-solve, so the measured point is the one shown.
    const auto alloc = solution->allocation();
    const QString method = QString::fromLatin1(alloc_method_name(alloc->method));
    const double budget = solution->budget_bits;
    auto result = std::make_shared<workflow::EvaluateOutcome>();
    workflow::EvaluateJob job;
    job.scoring.text = default_evaluation_text();
    job.scoring.ctx = 512;
    job.scoring.max_windows = 8;
    auto work = [a, alloc, job, result](const Progress& p) { *result = workflow::run_evaluate(*a, *alloc, job, p); };
    runWithProgress(tr("Evaluating %1 at %2 bits per weight").arg(method).arg(budget, 0, 'f', 3), tr("Evaluation failed"),
                    work, [this, result, method] {
                        rateQuality_->addMeasurement(method, result->avg_bits, result->ppl);
                        statusBar()->showMessage(
                            tr("%1 at %2 bits per weight: perplexity %3 (full precision %4), KL %5 over %6 windows "
                               "of WikiText-2")
                                .arg(method)
                                .arg(result->avg_bits, 0, 'f', 3)
                                .arg(result->ppl, 0, 'f', 2)
                                .arg(result->fp_ppl, 0, 'f', 2)
                                .arg(result->kl, 0, 'g', 3)
                                .arg(result->windows));
                        Q_EMIT evaluationFinished(result->avg_bits, result->ppl);
                    });
}

void MainWindow::runWithProgress(const QString& title, const QString& failTitle, std::function<void(const Progress&)> work,
                                 std::function<void()> done, std::function<void()> cancelled) {
    auto* job = new BackgroundJob(this);
    auto* progress = new JobProgressDialog(job, title, this);
    auto cleanup = [job, progress] {
        job->deleteLater();
        progress->deleteLater();
    };
    connect(job, &BackgroundJob::finished, this, [done, cleanup] {
        done();
        cleanup();
    });
    connect(job, &BackgroundJob::cancelled, this, [cancelled, cleanup] {
        if (cancelled) cancelled();
        cleanup();
    });
    connect(job, &BackgroundJob::failed, this, [this, failTitle, cleanup](const QString& message) {
        QMessageBox::warning(this, failTitle, message);
        cleanup();
    });
    job->start(std::move(work));
    progress->show();
}

void MainWindow::showPinMenu(const QPoint& pos) {
    const QModelIndex index = table_->indexAt(pos);
    const auto a = controller_->analysis();
    if (!index.isValid() || !a) return;
    const int row = proxy_->data(index, LayerTableModel::MatrixIndexRole).toInt();
    const std::string name = a->matrices.at(static_cast<std::size_t>(row)).name;
    const std::string kind = analysis::matrix_kind_name(a->matrices[static_cast<std::size_t>(row)].kind);
    analysis::ProblemOptions constraints = controller_->constraints();
    QMenu menu(this);
    auto pin = [&](const std::string& match, int bits) {
        analysis::ProblemOptions c = constraints;
        if (bits == 0)
            c.constraints.erase(match);
        else
            c.constraints[match].pinned_bits = bits;
        controller_->setConstraints(c);
    };
    QMenu* one = menu.addMenu(tr("Pin %1 at").arg(QString::fromStdString(name)));
    QMenu* all = menu.addMenu(tr("Pin every %1 at").arg(QString::fromStdString(kind)));
    for (int b : a->widths) {
        one->addAction(tr("%1 bits").arg(b), this, [pin, name, b] { pin(name, b); });
        all->addAction(tr("%1 bits").arg(b), this, [pin, kind, b] { pin(kind, b); });
    }
    // The embedding and lm_head can also stay at fp16 (the top rung of a whole-file allocation).
    if (analysis::is_vocab_kind(a->matrices[static_cast<std::size_t>(row)].kind))
        one->addAction(tr("fp16 (kept)"), this, [pin, name] { pin(name, kKeptBits); });
    if (constraints.constraints.count(name))
        menu.addAction(tr("Unpin %1").arg(QString::fromStdString(name)), this, [pin, name] { pin(name, 0); });
    if (constraints.constraints.count(kind))
        menu.addAction(tr("Unpin every %1").arg(QString::fromStdString(kind)), this, [pin, kind] { pin(kind, 0); });
    if (!constraints.constraints.empty())
        menu.addAction(tr("Remove all pins"), this, [this] { controller_->setConstraints({}); });
    menu.exec(table_->viewport()->mapToGlobal(pos));
}

// The tile inspector's pins: a click pins the tile at its width on screen (or unpins it), a right
// click offers every candidate width. Pins act on the layout the method allocates.
void MainWindow::tileClicked(int matrix, qint64 tile, bool reordered, Qt::MouseButton button, QPoint globalPos) {
    const auto a = controller_->analysis();
    if (!a || !controller_->ready()) return;
    if (reordered != controller_->pinsOnReorderedLayout()) {
        budget_->showError(tr("%1 allocates the %2 layout: pin tiles in its heatmap")
                               .arg(controller_->method(), controller_->pinsOnReorderedLayout() ? tr("reordered") : tr("original")));
        return;
    }
    if (button == Qt::LeftButton) return controller_->toggleTilePin(matrix, tile);
    if (button != Qt::RightButton) return;
    QMenu menu(this);
    QMenu* at = menu.addMenu(tr("Pin tile %1 at").arg(tile));
    for (int b : a->widths) at->addAction(tr("%1 bits").arg(b), this, [this, matrix, tile, b] { controller_->setTilePin(matrix, tile, b); });
    if (controller_->constraints().whole_file && analysis::is_vocab_kind(a->matrices.at(std::size_t(matrix)).kind))
        at->addAction(tr("fp16 (kept)"), this, [this, matrix, tile] { controller_->setTilePin(matrix, tile, kKeptBits); });
    if (controller_->tilePin(matrix, tile) != 0)
        menu.addAction(tr("Unpin tile %1").arg(tile), this, [this, matrix, tile] { controller_->setTilePin(matrix, tile, 0); });
    menu.exec(globalPos);
}

}  // namespace scalebits::ui
