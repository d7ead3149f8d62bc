#pragma once
// The explorer's main window: budget panel and layer table on the left, the four heatmaps in the
// middle, width histogram and rate-quality plot below. It wires views to the AllocationController and
// handles files (open, recent, drag and drop) and settings; the pages themselves live in views/.
#include <QLabel>
#include <QMainWindow>

#include <functional>
#include <memory>
#include <optional>

#include "ui/controllers/allocation_controller.h"
#include "core/util/cancel.h"
#include "core/workflow/workspace.h"
#include "ui/settings.h"

class QLineEdit;
class QMenu;
class QSortFilterProxyModel;
class QSplitter;
class QTableView;
class QAction;

namespace scalebits::ui {

class BudgetPanel;
class HeatmapView;
class LayerTableModel;
class ModelMap;
class RateQualityPlot;
class WidthHistogram;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    AllocationController* controller() const { return controller_; }
    HeatmapView* heatmaps() const { return heatmaps_; }
    BudgetPanel* budgetPanel() const { return budget_; }
    LayerTableModel* layerModel() const { return layers_; }
    QTableView* layerView() const { return table_; }
    ModelMap* modelMap() const { return modelMap_; }
    // Selects matrix `matrix` (analysis index) in the layer table and the heatmaps.
    void showMatrix(int matrix);

    // Shows an analysis already in memory (synthetic, or loaded by the caller).
    void setAnalysis(std::shared_ptr<const analysis::Analysis> analysis, const QString& source);
    // Loads an analysis file in a worker (errors become a dialog and fileFailed); a model file or
    // folder opens the analysis dialog for it instead, and a workspace (.sbw) its analysis with the
    // saved method, budget and constraints (workspaceApplied once they are on screen).
    void openFile(const QString& path);
    // Saves the open analysis's file, the method, the budget and the constraints as a workspace
    // (workflow/workspace.h). Errors become a warning; returns whether it was written.
    bool saveWorkspace(const QString& path);
    // Opens the analysis of the default model when one was saved, else offers to make it.
    void offerDefaultModel();
    // The analysis dialog (for `model`, or the default model), then the analysis in the background.
    void analyzeModel(const QString& model = {});
    // The export dialog for the allocation on screen.
    void showExportDialog();
    // Measures ppl and KL of the allocation on screen (RTN, WikiText-2, 8 windows) in the background
    // and adds the point to the rate-quality plot.
    void evaluateAtBudget();
    RateQualityPlot* rateQualityPlot() const { return rateQuality_; }
    QMenu* figureMenu() const { return figureMenu_; }  // File > Export figure
    // The analysed model's family and size, as the status bar shows it ("qwen2 (biases on q, k, v) ·
    // 24 layers · hidden 896"); empty without an analysis.
    QString modelDescription() const;

Q_SIGNALS:
    void fileFailed(const QString& message);
    void evaluationFinished(double avg_bits, double ppl);
    void workspaceApplied();

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void createActions();
    QWidget* createLeftPane();
    void openDialog();
    void saveWorkspaceDialog();
    void openWorkspace(const QString& path);
    // After each analysisReady: the next step of a workspace being opened, if any.
    void applyPendingWorkspace();
    void exportImage();
    void exportCsv();
    void updateRecentMenu();
    void selectMatrix(const QModelIndex& proxyIndex);
    void showSolution(std::shared_ptr<const Solution> solution);
    void nudgeBudget(double delta);
    // The layer table's context menu: pin the matrix (or every matrix of its kind) at a width.
    void showPinMenu(const QPoint& pos);
    void tileClicked(int matrix, qint64 tile, bool reordered, Qt::MouseButton button, QPoint globalPos);
    // Runs `work` in a BackgroundJob with a progress dialog; `done` on success, `cancelled` on cancel,
    // a warning titled `failTitle` on failure.
    void runWithProgress(const QString& title, const QString& failTitle, std::function<void(const scalebits::Progress&)> work,
                         std::function<void()> done, std::function<void()> cancelled = {});

    Settings settings_;
    AllocationController* controller_ = nullptr;
    LayerTableModel* layers_ = nullptr;
    QSortFilterProxyModel* proxy_ = nullptr;
    QTableView* table_ = nullptr;
    QLineEdit* filter_ = nullptr;
    HeatmapView* heatmaps_ = nullptr;
    BudgetPanel* budget_ = nullptr;
    WidthHistogram* histogram_ = nullptr;
    ModelMap* modelMap_ = nullptr;
    RateQualityPlot* rateQuality_ = nullptr;
    QMenu* figureMenu_ = nullptr;
    QSplitter* hsplit_ = nullptr;
    QSplitter* vsplit_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QAction* evaluateAction_ = nullptr;
    QAction* exportAction_ = nullptr;
    QLabel* modelLabel_ = nullptr;  // permanent, right of the status bar
    QString source_;
    bool sizeColumns_ = false;
    // A workspace being opened: its analysis loads first, then method, budget and constraints follow
    // (the constraints rebuild the allocators, so one more analysisReady comes before it is applied).
    std::optional<workflow::Workspace> pendingWorkspace_;
    bool awaitingConstraints_ = false;
    QAction* saveWorkspaceAction_ = nullptr;
};

}  // namespace scalebits::ui
