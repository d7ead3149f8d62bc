#pragma once
// The budget controls: a bits-per-weight slider with an exact entry box, the file size (which also
// takes a size to fit: "70 MB", "1.2 GB" or a byte count), the method selector and the totals of the
// current allocation (average width, predicted loss). On the slider, the arrow keys step the budget
// by 0.01 bits and Page Up/Down by 0.1. It only forwards the user's requests and shows the
// controller's answers.
#include <QWidget>

#include <memory>

#include "ui/controllers/allocation_controller.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QSlider;

namespace scalebits::ui {

class BudgetPanel : public QWidget {
    Q_OBJECT
public:
    explicit BudgetPanel(QWidget* parent = nullptr);

    // Reachable range of the allocator; the slider spans it in kSteps steps.
    void setRange(double minBits, double maxBits);
    void setBudget(double bits);  // moves the controls without emitting budgetRequested
    void setMethod(const QString& method);
    double budget() const;
    QSlider* slider() const { return slider_; }
    QDoubleSpinBox* spinBox() const { return spin_; }
    QComboBox* methodBox() const { return method_; }
    QLineEdit* sizeField() const { return size_; }

    static constexpr int kSteps = 1000;
    static constexpr double kFineStep = 0.01, kCoarseStep = 0.1;  // bits per weight

    // "70 MB", "70MB", "1.5 GB", "512 kB", "73400320" (bytes); SI units as the field shows them.
    // Returns 0 for text that is not a size.
    static qint64 parseSize(const QString& text);

public Q_SLOTS:
    void showSolution(std::shared_ptr<const scalebits::ui::Solution> solution);
    void showError(const QString& message);

Q_SIGNALS:
    void budgetRequested(double bits);
    void sizeRequested(qint64 bytes);  // the whole model file, the allocation's total_bytes
    void methodRequested(const QString& method);

private:
    void sliderMoved(int position);
    void spinChanged(double bits);
    void step(double delta);
    void sizeEntered();
    bool eventFilter(QObject* watched, QEvent* event) override;

    QSlider* slider_ = nullptr;
    QDoubleSpinBox* spin_ = nullptr;
    QComboBox* method_ = nullptr;
    QLineEdit* size_ = nullptr;
    QLabel* totals_ = nullptr;
    double min_ = 2.0, max_ = 8.0;
    bool updating_ = false;
};

}  // namespace scalebits::ui
