#pragma once
// Help > About: what the explorer is and the versions it runs on (Qt, LibTorch, CUDA, the kernels'
// device), so a bug report can say exactly which build it came from.
#include <QString>

class QWidget;

namespace scalebits::ui {

// Plain text of the versions, one per line (also used by --version and the tests).
QString versionReport();
void showAboutDialog(QWidget* parent);

}  // namespace scalebits::ui
