#pragma once
// A modal progress dialog bound to a BackgroundJob: the stage, its percentage and a time estimate;
// Cancel (or Escape) asks the job to stop and the dialog closes when the job reports back.
#include <QProgressDialog>

namespace scalebits::ui {

class BackgroundJob;

class JobProgressDialog : public QProgressDialog {
    Q_OBJECT
public:
    JobProgressDialog(BackgroundJob* job, const QString& title, QWidget* parent = nullptr);
};

}  // namespace scalebits::ui
