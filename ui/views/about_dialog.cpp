#include "ui/views/about_dialog.h"

#include <QMessageBox>
#include <QStringList>

#include <torch/version.h>  // only here: ui headers stay free of LibTorch's version macros

#include "core/util/version.h"
#include "scalebits/kernels.h"

#ifndef SCALEBITS_CUDA_VERSION
#define SCALEBITS_CUDA_VERSION ""
#endif

namespace scalebits::ui {

QString versionReport() {
    QStringList lines;
    lines << QStringLiteral("ScaleBITS %1").arg(QString::fromLatin1(scalebits::version_string()));
    lines << QStringLiteral("Qt %1 (built with %2)").arg(QString::fromLatin1(qVersion()), QStringLiteral(QT_VERSION_STR));
    lines << QStringLiteral("LibTorch %1").arg(QStringLiteral(TORCH_VERSION));
    const QString cuda = QStringLiteral(SCALEBITS_CUDA_VERSION);
    if (cuda.isEmpty()) {
        lines << QStringLiteral("CUDA: not built (CPU kernels only)");
    } else {
        const QString device = QString::fromStdString(kernels::cuda_device_name());
        lines << QStringLiteral("CUDA %1, device: %2").arg(cuda, device.isEmpty() ? QStringLiteral("none found") : device);
    }
    return lines.join(QLatin1Char('\n'));
}

void showAboutDialog(QWidget* parent) {
    QMessageBox box(parent);
    box.setWindowTitle(QObject::tr("About ScaleBITS"));
    box.setIconPixmap(QIcon(QStringLiteral(":/icons/scalebits.svg")).pixmap(64, 64));
    box.setText(QObject::tr("<h3>ScaleBITS explorer</h3><p>Mixed-precision weight quantization for LLMs: per-tile "
                            "sensitivity, channel reordering and a bit allocation for any memory budget.</p>"));
    box.setInformativeText(versionReport().replace(QLatin1Char('\n'), QStringLiteral("<br>")));
    box.exec();
}

}  // namespace scalebits::ui
