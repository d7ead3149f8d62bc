#include "ui/views/job_progress_dialog.h"

#include "ui/controllers/background_job.h"

namespace scalebits::ui {

JobProgressDialog::JobProgressDialog(BackgroundJob* job, const QString& title, QWidget* parent)
    : QProgressDialog(parent) {
    setWindowTitle(title);
    setLabelText(tr("Starting…"));
    setRange(0, 1000);
    setMinimumDuration(0);
    setMinimumWidth(460);
    setAutoClose(false);
    setAutoReset(false);
    setWindowModality(Qt::WindowModal);
    connect(this, &QProgressDialog::canceled, job, [this, job] {
        setLabelText(tr("Stopping…"));
        job->cancel();
    });
    connect(job, &BackgroundJob::progressed, this, [this](double fraction, const QString& stage, double eta) {
        setValue(static_cast<int>(fraction * 1000));
        const QString when = describeEta(eta);
        setLabelText(when.isEmpty() ? tr("%1: %2%").arg(stage).arg(qRound(fraction * 100))
                                    : tr("%1: %2% · %3").arg(stage).arg(qRound(fraction * 100)).arg(when));
    });
    for (auto signal : {&BackgroundJob::finished, &BackgroundJob::cancelled}) connect(job, signal, this, &QDialog::accept);
    connect(job, &BackgroundJob::failed, this, &QDialog::reject);
}

}  // namespace scalebits::ui
