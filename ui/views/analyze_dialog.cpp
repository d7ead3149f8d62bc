#include "ui/views/analyze_dialog.h"

#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>

#include "core/util/default_paths.h"
#include "core/util/error.h"

namespace scalebits::ui {

namespace {
QWidget* withBrowse(QLineEdit* edit, QWidget* parent, const std::function<QString()>& pick) {
    auto* row = new QWidget(parent);
    auto* h = new QHBoxLayout(row);
    h->setContentsMargins(0, 0, 0, 0);
    h->addWidget(edit, 1);
    auto* browse = new QPushButton(AnalyzeDialog::tr("Browse…"), row);
    QObject::connect(browse, &QPushButton::clicked, row, [edit, pick] {
        const QString p = pick();
        if (!p.isEmpty()) edit->setText(p);
    });
    h->addWidget(browse);
    return row;
}

QSpinBox* spin(int lo, int hi, int value, QWidget* parent) {
    auto* s = new QSpinBox(parent);
    s->setRange(lo, hi);
    s->setValue(value);
    return s;
}
}  // namespace

QString AnalyzeDialog::defaultOutput(const QString& model) {
    const QString folder = QString::fromStdString(default_analysis_folder().string());
    return folder + QLatin1Char('/') + QFileInfo(model).completeBaseName() + QStringLiteral(".sba");
}

AnalyzeDialog::AnalyzeDialog(const QString& model, QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("Analyze a model"));
    const QString m = model.isEmpty() ? QString::fromStdString(default_model_path().string()) : model;
    model_ = new QLineEdit(m, this);
    tokenizer_ = new QLineEdit(this);
    tokenizer_->setPlaceholderText(tr("from the model file (GGUF, tokenizer.json beside it)"));
    calib_ = new QLineEdit(QString::fromStdString(default_calibration_text().string()), this);
    output_ = new QLineEdit(defaultOutput(m), this);
    samples_ = spin(1, 100000, 128, this);
    seqlen_ = spin(2, 32768, 512, this);
    tileRows_ = spin(1, 4096, 128, this);
    tileCols_ = spin(1, 4096, 128, this);
    group_ = spin(0, 4096, 0, this);
    group_->setSpecialValueText(tr("automatic (128, or 64 when a dimension is not a multiple of 128)"));
    QStringList defaults;
    for (int b : analysis::AnalysisOptions{}.widths) defaults << QString::number(b);
    bits_ = new QLineEdit(defaults.join(QLatin1Char(',')), this);
    connect(model_, &QLineEdit::textEdited, this, [this](const QString& text) { output_->setText(defaultOutput(text)); });

    auto* form = new QFormLayout;
    form->addRow(tr("&Model"), withBrowse(model_, this, [this] {
                     return QFileDialog::getOpenFileName(this, tr("Model"), model_->text(),
                                                         tr("Models (*.gguf *.safetensors *.bin);;All files (*)"));
                 }));
    form->addRow(tr("&Tokenizer"), withBrowse(tokenizer_, this, [this] {
                     return QFileDialog::getOpenFileName(this, tr("Tokenizer"), QString(),
                                                         tr("Tokenizers (*.json *.bin);;All files (*)"));
                 }));
    form->addRow(tr("&Calibration text"), withBrowse(calib_, this, [this] {
                     return QFileDialog::getOpenFileName(this, tr("Calibration text"), calib_->text());
                 }));
    auto* shape = new QHBoxLayout;
    shape->addWidget(samples_);
    shape->addWidget(new QLabel(tr("sequences of"), this));
    shape->addWidget(seqlen_);
    shape->addWidget(new QLabel(tr("tokens"), this));
    form->addRow(tr("Calibration set"), shape);
    auto* tile = new QHBoxLayout;
    tile->addWidget(tileRows_);
    tile->addWidget(new QLabel(QStringLiteral("×"), this));
    tile->addWidget(tileCols_);
    form->addRow(tr("Tile (rows × columns)"), tile);
    form->addRow(tr("&Group"), group_);
    form->addRow(tr("Candidate &widths"), bits_);
    form->addRow(tr("&Save analysis as"), withBrowse(output_, this, [this] {
                     return QFileDialog::getSaveFileName(this, tr("Analysis file"), output_->text(),
                                                         tr("Analysis files (*.sba *.analysis *.safetensors)"));
                 }));
    auto* note = new QLabel(tr("The calibration text must not be the evaluation text. On two CPU cores, SmolLM2-135M "
                               "takes about 20 minutes at 128 × 512 tokens."),
                            this);
    note->setWordWrap(true);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("&Analyze"));
    connect(buttons, &QDialogButtonBox::accepted, this, &AnalyzeDialog::validateAndAccept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(note);
    layout->addWidget(buttons);
}

AnalyzeRequest AnalyzeDialog::request() const {
    AnalyzeRequest r;
    r.model = model_->text().trimmed();
    r.tokenizer = tokenizer_->text().trimmed();
    r.output = output_->text().trimmed();
    r.options.calib_text = calib_->text().trimmed().toStdString();
    r.options.samples = samples_->value();
    r.options.seq_len = seqlen_->value();
    r.options.tile_rows = tileRows_->value();
    r.options.tile_cols = tileCols_->value();
    r.options.group = group_->value();
    r.options.widths.clear();
    for (const QString& part : bits_->text().split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool ok = false;
        const int b = part.trimmed().toInt(&ok);
        if (!ok || b < 2 || b > 8) throw InputError("candidate widths must be integers in 2..8, e.g. 2,3,4,8");
        r.options.widths.push_back(b);
    }
    if (r.options.widths.empty()) throw InputError("give at least one candidate width");
    return r;
}

void AnalyzeDialog::validateAndAccept() {
    try {
        const AnalyzeRequest r = request();
        if (!QFileInfo::exists(r.model)) throw InputError(r.model.toStdString(), "no such model file or folder");
        if (!QFileInfo::exists(QString::fromStdString(r.options.calib_text.string())))
            throw InputError(r.options.calib_text, "no such calibration text");
        if (r.output.isEmpty()) throw InputError("choose where to save the analysis");
        accept();
    } catch (const std::exception& e) {
        QMessageBox::warning(this, tr("Check the options"), QString::fromStdString(e.what()));
    }
}

}  // namespace scalebits::ui
