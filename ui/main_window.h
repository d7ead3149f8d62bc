#pragma once
// The explorer's main window: budget panel and layer table on the left, the four heatmaps in the
// middle, width histogram and rate-quality plot below. It wires views to the AllocationController and
// handles files (open, recent, drag and drop) and settings; the pages themselves live in views/.
#include <QMainWindow>

#include <memory>

#include "ui/controllers/allocation_controller.h"
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

    // Shows an analysis already in memory (synthetic, or loaded by the caller).
    void setAnalysis(std::shared_ptr<const analysis::Analysis> analysis, const QString& source);
    // Loads an analysis file in a worker; errors become a dialog (or errorOccurred when `quiet`).
    void openFile(const QString& path);

Q_SIGNALS:
    void fileFailed(const QString& message);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void createActions();
    QWidget* createLeftPane();
    void openDialog();
    void exportImage();
    void exportCsv();
    void updateRecentMenu();
    void selectMatrix(const QModelIndex& proxyIndex);
    void showSolution(std::shared_ptr<const Solution> solution);
    void nudgeBudget(double delta);

    Settings settings_;
    AllocationController* controller_ = nullptr;
    LayerTableModel* layers_ = nullptr;
    QSortFilterProxyModel* proxy_ = nullptr;
    QTableView* table_ = nullptr;
    QLineEdit* filter_ = nullptr;
    HeatmapView* heatmaps_ = nullptr;
    BudgetPanel* budget_ = nullptr;
    WidthHistogram* histogram_ = nullptr;
    RateQualityPlot* rateQuality_ = nullptr;
    QSplitter* hsplit_ = nullptr;
    QSplitter* vsplit_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QAction* evaluateAction_ = nullptr;
    QString source_;
    bool sizeColumns_ = false;
};

}  // namespace scalebits::ui
