#pragma once
// The options of an analysis run (DESIGN.md 2.1-2.3): model, calibration text, samples x sequence
// length, tile and group shape, candidate widths and the output file. Prefilled with the project's
// defaults; a model path given by the caller (a dropped or opened model file) is kept.
#include <QDialog>

#include "core/analysis/analysis.h"

class QComboBox;
class QLineEdit;
class QSpinBox;

namespace scalebits::ui {

struct AnalyzeRequest {
    QString model, tokenizer, output;
    analysis::AnalysisOptions options;
};

class AnalyzeDialog : public QDialog {
    Q_OBJECT
public:
    explicit AnalyzeDialog(const QString& model, QWidget* parent = nullptr);
    // Valid after accept(); throws InputError for a malformed entry (the dialog checks first).
    AnalyzeRequest request() const;
    // The analysis file name the dialog proposes for a model.
    static QString defaultOutput(const QString& model);

private:
    void validateAndAccept();
    QLineEdit* model_ = nullptr;
    QLineEdit* tokenizer_ = nullptr;
    QLineEdit* calib_ = nullptr;
    QLineEdit* output_ = nullptr;
    QSpinBox* samples_ = nullptr;
    QSpinBox* seqlen_ = nullptr;
    QSpinBox* tileRows_ = nullptr;
    QSpinBox* tileCols_ = nullptr;
    QSpinBox* group_ = nullptr;
    QLineEdit* bits_ = nullptr;
};

}  // namespace scalebits::ui
