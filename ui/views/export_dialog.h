#pragma once
// The export dialog: the allocation on screen (the controller's Solution::allocation, not a re-solve)
// written as a packed model folder
// with the chosen quantizer, in the background with progress and Cancel (a cancelled export leaves
// no files), then a latency run on this machine, packed against dense, saved as
// latency_report.json beside the export.
#include <QDialog>

#include <memory>

#include "core/analysis/allocation.h"
#include "core/analysis/analysis.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace scalebits::ui {

class BackgroundJob;

class ExportDialog : public QDialog {
    Q_OBJECT
public:
    // `budget_bits`: the budget the allocation was solved for (the folder name and the export's info).
    ExportDialog(std::shared_ptr<const analysis::Analysis> analysis, std::shared_ptr<const analysis::Allocation> allocation,
                 double budget_bits, QWidget* parent = nullptr);

    void setFolder(const QString& folder);
    void setQuantizer(const QString& name);  // "rtn" | "gptq" | "gptq-seq"
    void setLatencySteps(int steps);         // 0 = no latency run
    QString reportText() const;
    BackgroundJob* job() const { return job_; }

public Q_SLOTS:
    void start();

Q_SIGNALS:
    void exported(const QString& folder);

private:
    void setRunning(bool running);
    std::shared_ptr<const analysis::Analysis> analysis_;
    std::shared_ptr<const analysis::Allocation> allocation_;
    double budget_;
    BackgroundJob* job_ = nullptr;
    QLineEdit* folder_ = nullptr;
    QComboBox* quantizer_ = nullptr;
    QCheckBox* latency_ = nullptr;
    QSpinBox* steps_ = nullptr;
    QProgressBar* bar_ = nullptr;
    QLabel* stage_ = nullptr;
    QPlainTextEdit* report_ = nullptr;
    QPushButton* exportButton_ = nullptr;
    QPushButton* cancelButton_ = nullptr;
    bool createdFolder_ = false;
};

}  // namespace scalebits::ui
