#pragma once
// Taking a figure away: any plot or heatmap as PNG or SVG (by the file's suffix), and the numbers
// behind it as CSV, from its context menu (and File > Export figure for the heatmaps).
#include <QString>

#include <functional>

class QWidget;

namespace scalebits::ui {

// Throws InputError naming the file when it cannot be written.
void saveFigureImage(QWidget* figure, const QString& path);
void saveText(const QString& path, const QString& text);

// Saves `figure` by the suffix of `path`: .csv writes csv() (InputError when the figure has no
// numbers to give), .svg a drawing, anything else an image.
void saveFigure(QWidget* figure, const QString& path, const std::function<QString()>& csv);

// A save dialog offering PNG, SVG and, when `csv` is given, CSV, then saveFigure; errors become a
// warning. What File > Export figure runs for each plot.
void exportFigureWithDialog(QWidget* figure, const QString& name, const std::function<QString()>& csv);

// A context menu on `figure` with "Save image…" and, when `csv` is given, "Save data as CSV…";
// `name` is the suggested file name without suffix. Errors become a warning.
void addFigureMenu(QWidget* figure, const QString& name, std::function<QString()> csv);

}  // namespace scalebits::ui
