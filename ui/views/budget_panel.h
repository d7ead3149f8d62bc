#pragma once
// The budget controls: a bits-per-weight slider with an exact entry box, the method selector and the
// totals of the current allocation (file size, average width, predicted loss). It only forwards the
// user's requests and shows the controller's answers.
#include <QWidget>

#include <memory>

#include "ui/controllers/allocation_controller.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
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

    static constexpr int kSteps = 1000;

public Q_SLOTS:
    void showSolution(std::shared_ptr<const scalebits::ui::Solution> solution);
    void showError(const QString& message);

Q_SIGNALS:
    void budgetRequested(double bits);
    void methodRequested(const QString& method);

private:
    void sliderMoved(int position);
    void spinChanged(double bits);

    QSlider* slider_ = nullptr;
    QDoubleSpinBox* spin_ = nullptr;
    QComboBox* method_ = nullptr;
    QLabel* size_ = nullptr;
    QLabel* totals_ = nullptr;
    double min_ = 2.0, max_ = 8.0;
    bool updating_ = false;
};

}  // namespace scalebits::ui
