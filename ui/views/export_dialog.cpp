#include "ui/views/export_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>

#include "core/util/default_paths.h"
#include "core/workflow/jobs.h"
#include "ui/controllers/background_job.h"

namespace scalebits::ui {


ExportDialog::ExportDialog(std::shared_ptr<const analysis::Analysis> analysis,
                           std::shared_ptr<const analysis::Allocation> allocation, double budget_bits, QWidget* parent)
    : QDialog(parent), analysis_(std::move(analysis)), allocation_(std::move(allocation)), budget_(budget_bits) {
    const char* method = allocation_ ? alloc_method_name(allocation_->method) : "none";
    setWindowTitle(tr("Export packed model"));
    job_ = new BackgroundJob(this);
    const QString base = analysis_ ? QFileInfo(QString::fromStdString(analysis_->model_path.string())).completeBaseName()
                                   : QStringLiteral("model");
    folder_ = new QLineEdit(QDir::home().filePath(QStringLiteral("%1-%2-%3bpw").arg(base, QString::fromLatin1(method))
                                                      .arg(budget_bits, 0, 'f', 2)),
                            this);
    auto* browse = new QPushButton(tr("Browse…"), this);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString d = QFileDialog::getExistingDirectory(this, tr("Export folder"), folder_->text());
        if (!d.isEmpty()) folder_->setText(d);
    });
    auto* folderRow = new QHBoxLayout;
    folderRow->addWidget(folder_, 1);
    folderRow->addWidget(browse);
    quantizer_ = new QComboBox(this);
    quantizer_->addItem(tr("RTN with clip search (fast)"), QStringLiteral("rtn"));
    quantizer_->addItem(tr("GPTQ (error compensation, slower, better at 2–3 bits)"), QStringLiteral("gptq"));
    quantizer_->addItem(tr("GPTQ, sequential (each layer fed by the quantized ones below; reruns calibration)"),
                        QStringLiteral("gptq-seq"));
    latency_ = new QCheckBox(tr("Measure decode latency after export (CPU, packed vs dense)"), this);
    latency_->setChecked(true);
    steps_ = new QSpinBox(this);
    steps_->setRange(1, 4096);
    steps_->setValue(64);
    steps_->setSuffix(tr(" tokens"));
    auto* form = new QFormLayout;
    form->addRow(tr("Allocation"), new QLabel(tr("%1 at %2 bits per weight")
                                                  .arg(QString::fromLatin1(method))
                                                  .arg(QLocale().toString(allocation_ ? allocation_->avg_bits : 0.0, 'f', 3)),
                                              this));
    form->addRow(tr("Folder"), folderRow);
    form->addRow(tr("&Quantizer"), quantizer_);
    form->addRow(latency_);
    form->addRow(tr("Latency &run"), steps_);
    bar_ = new QProgressBar(this);
    bar_->setRange(0, 1000);
    stage_ = new QLabel(this);
    report_ = new QPlainTextEdit(this);
    report_->setReadOnly(true);
    report_->setMinimumHeight(150);
    auto* buttons = new QDialogButtonBox(this);
    exportButton_ = buttons->addButton(tr("&Export"), QDialogButtonBox::AcceptRole);
    cancelButton_ = buttons->addButton(tr("&Cancel export"), QDialogButtonBox::ActionRole);
    auto* close = buttons->addButton(QDialogButtonBox::Close);
    cancelButton_->setEnabled(false);
    connect(exportButton_, &QPushButton::clicked, this, &ExportDialog::start);
    connect(cancelButton_, &QPushButton::clicked, job_, &BackgroundJob::cancel);
    connect(close, &QPushButton::clicked, this, [this] {
        job_->cancel();
        reject();
    });
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(bar_);
    layout->addWidget(stage_);
    layout->addWidget(report_, 1);
    layout->addWidget(buttons);
    resize(640, 460);

    connect(job_, &BackgroundJob::progressed, this, [this](double f, const QString& stage, double eta) {
        bar_->setValue(static_cast<int>(f * 1000));
        stage_->setText(describeEta(eta).isEmpty() ? stage : stage + QStringLiteral(" · ") + describeEta(eta));
    });
    connect(job_, &BackgroundJob::cancelled, this, [this] {
        // export_model creates the folder only when it writes; remove one we made that stayed empty.
        if (createdFolder_) QDir().rmdir(folder_->text());
        stage_->setText(tr("Cancelled: nothing was written."));
        setRunning(false);
    });
    connect(job_, &BackgroundJob::failed, this, [this](const QString& message) {
        stage_->setText(tr("Failed."));
        report_->setPlainText(message);
        setRunning(false);
    });
}

void ExportDialog::setFolder(const QString& folder) { folder_->setText(folder); }
void ExportDialog::setQuantizer(const QString& name) { quantizer_->setCurrentIndex(quantizer_->findData(name)); }
void ExportDialog::setLatencySteps(int steps) {
    latency_->setChecked(steps > 0);
    if (steps > 0) steps_->setValue(steps);
}
QString ExportDialog::reportText() const { return report_->toPlainText(); }

void ExportDialog::setRunning(bool running) {
    exportButton_->setEnabled(!running);
    cancelButton_->setEnabled(running);
    folder_->setEnabled(!running);
    quantizer_->setEnabled(!running);
}

void ExportDialog::start() {
    if (!analysis_ || !allocation_ || job_->running()) return;
    const QString folder = folder_->text().trimmed();
    createdFolder_ = !QFileInfo::exists(folder);
    const auto quantizer = analysis::parse_quantizer(quantizer_->currentData().toString().toStdString());
    const int steps = latency_->isChecked() ? steps_->value() : 0;
    auto outcome = std::make_shared<workflow::ExportOutcome>();
    auto a = analysis_;
    auto alloc = allocation_;
    report_->clear();
    setRunning(true);
    disconnect(job_, &BackgroundJob::finished, this, nullptr);
    connect(job_, &BackgroundJob::finished, this, [this, outcome, folder, alloc] {
        const QLocale l;
        QString text = tr("Exported to %1\nmodel.safetensors: %2 (predicted %3, %4 bits per weight)\n")
                           .arg(folder, l.formattedDataSize(outcome->exported.model_file_bytes, 2, QLocale::DataSizeSIFormat),
                                l.formattedDataSize(outcome->exported.predicted_bytes, 2, QLocale::DataSizeSIFormat))
                           .arg(alloc->avg_bits, 0, 'f', 3);
        if (outcome->latency) {
            const auto& r = *outcome->latency;
            text += tr("\nDecode on the CPU, batch 1, %1 tokens:\n  decode engine  %2 tokens/s (%3% of the %4 tokens/s "
                       "that reading its weights allows)\n  LibTorch packed  %5 tokens/s (%6% in linear layers)\n"
                       "  dense fp32  %7 tokens/s (%8% in linear layers)\n  speedup x%9\n\nLibTorch paths, per token, per "
                       "matrix kind (µs, packed / dense):\n")
                        .arg(r.native.steps)
                        .arg(r.native.tokens_per_s, 0, 'f', 1)
                        .arg(100 * r.native.tokens_per_s / r.bandwidth_limit_tokens_per_s(), 0, 'f', 0)
                        .arg(r.bandwidth_limit_tokens_per_s(), 0, 'f', 1)
                        .arg(r.packed.tokens_per_s, 0, 'f', 1)
                        .arg(100 * r.packed.linear_share, 0, 'f', 1)
                        .arg(r.dense.tokens_per_s, 0, 'f', 1)
                        .arg(100 * r.dense.linear_share, 0, 'f', 1)
                        .arg(r.speedup(), 0, 'f', 2);
            for (int k = 0; k < model::kLinearKinds; ++k)
                text += QStringLiteral("  %1 %2 / %3\n")
                            .arg(QString::fromLatin1(model::linear_kind_name(static_cast<model::LinearKind>(k))), -10)
                            .arg(r.packed.kind_seconds[std::size_t(k)] / double(r.packed.steps) * 1e6, 8, 'f', 1)
                            .arg(r.dense.kind_seconds[std::size_t(k)] / double(r.dense.steps) * 1e6, 8, 'f', 1);
            text += tr("\nReport saved as %1").arg(QDir(folder).filePath(QStringLiteral("latency_report.json")));
        }
        report_->setPlainText(text);
        stage_->setText(tr("Done."));
        bar_->setValue(1000);
        setRunning(false);
        Q_EMIT exported(folder);
    });
    workflow::ExportJob job;
    job.quantizer = quantizer;
    job.out = folder.toStdString();
    job.budget_bits_per_weight = budget_;
    job.latency_steps = steps;
    job.latency_text = default_calibration_text();
    job_->start([a, alloc, job, outcome](const Progress& progress) {
        *outcome = workflow::run_export(*a, *alloc, job, progress);
    });
}

}  // namespace scalebits::ui
