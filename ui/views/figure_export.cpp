#include "ui/views/figure_export.h"

#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenu>
#include <QMessageBox>
#include <QPainter>
#include <QSvgGenerator>
#include <QWidget>

#include "core/util/error.h"

namespace scalebits::ui {

void saveFigureImage(QWidget* figure, const QString& path) {
    if (QFileInfo(path).suffix().compare(QStringLiteral("svg"), Qt::CaseInsensitive) == 0) {
        QSvgGenerator svg;
        svg.setFileName(path);
        svg.setSize(figure->size());
        svg.setViewBox(figure->rect());
        svg.setTitle(QStringLiteral("ScaleBITS"));
        QPainter painter;
        if (!painter.begin(&svg)) throw InputError(path.toStdString(), "cannot write the SVG file");
        figure->render(&painter);
        painter.end();
        return;
    }
    if (!figure->grab().save(path)) throw InputError(path.toStdString(), "cannot write the image (check the folder and the suffix)");
}

void saveText(const QString& path, const QString& text) {
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text))
        throw InputError(path.toStdString(), "cannot write: " + file.errorString().toStdString());
    if (file.write(text.toUtf8()) < 0) throw InputError(path.toStdString(), "cannot write: " + file.errorString().toStdString());
}

void saveFigure(QWidget* figure, const QString& path, const std::function<QString()>& csv) {
    if (QFileInfo(path).suffix().compare(QStringLiteral("csv"), Qt::CaseInsensitive) == 0) {
        if (!csv) throw InputError(path.toStdString(), "this figure has no table of numbers to save as CSV");
        return saveText(path, csv());
    }
    saveFigureImage(figure, path);
}

void exportFigureWithDialog(QWidget* figure, const QString& name, const std::function<QString()>& csv) {
    QString filters = QObject::tr("PNG image (*.png);;SVG drawing (*.svg)");
    if (csv) filters += QObject::tr(";;CSV (*.csv)");
    const QString path = QFileDialog::getSaveFileName(figure->window(), QObject::tr("Export figure"), name + QStringLiteral(".png"), filters);
    if (path.isEmpty()) return;
    try {
        saveFigure(figure, path, csv);
    } catch (const std::exception& e) {
        QMessageBox::warning(figure->window(), QObject::tr("Export failed"), QString::fromStdString(e.what()));
    }
}

void addFigureMenu(QWidget* figure, const QString& name, std::function<QString()> csv) {
    figure->setContextMenuPolicy(Qt::CustomContextMenu);
    QObject::connect(figure, &QWidget::customContextMenuRequested, figure, [figure, name, csv](const QPoint& pos) {
        QMenu menu(figure);
        auto guarded = [figure](auto&& save) {
            try {
                save();
            } catch (const std::exception& e) {
                QMessageBox::warning(figure, QObject::tr("Export failed"), QString::fromStdString(e.what()));
            }
        };
        menu.addAction(QObject::tr("Save image…"), figure, [figure, name, guarded] {
            const QString path = QFileDialog::getSaveFileName(figure, QObject::tr("Save image"), name + QStringLiteral(".png"),
                                                              QObject::tr("PNG image (*.png);;SVG drawing (*.svg)"));
            if (!path.isEmpty()) guarded([&] { saveFigureImage(figure, path); });
        });
        if (csv)
            menu.addAction(QObject::tr("Save data as CSV…"), figure, [figure, name, csv, guarded] {
                const QString path = QFileDialog::getSaveFileName(figure, QObject::tr("Save data"), name + QStringLiteral(".csv"),
                                                                  QObject::tr("CSV (*.csv)"));
                if (!path.isEmpty()) guarded([&] { saveText(path, csv()); });
            });
        menu.exec(figure->mapToGlobal(pos));
    });
}

}  // namespace scalebits::ui
