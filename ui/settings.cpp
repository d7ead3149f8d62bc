#include "ui/settings.h"

namespace scalebits::ui {
namespace {
const QString kRecent = QStringLiteral("files/recent");
const QString kGeometry = QStringLiteral("window/geometry");
const QString kState = QStringLiteral("window/state");
const QString kSplitter = QStringLiteral("window/splitter/");
const QString kBudget = QStringLiteral("allocation/budget");
const QString kMethod = QStringLiteral("allocation/method");
}  // namespace

Settings::Settings() = default;
Settings::Settings(const QString& file) : settings_(file, QSettings::IniFormat) {}

QStringList Settings::recentFiles() const { return settings_.value(kRecent).toStringList(); }

void Settings::addRecentFile(const QString& path) {
    QStringList files = recentFiles();
    files.removeAll(path);
    files.prepend(path);
    while (files.size() > kMaxRecentFiles) files.removeLast();
    settings_.setValue(kRecent, files);
}

void Settings::removeRecentFile(const QString& path) {
    QStringList files = recentFiles();
    files.removeAll(path);
    settings_.setValue(kRecent, files);
}

QByteArray Settings::windowGeometry() const { return settings_.value(kGeometry).toByteArray(); }
void Settings::setWindowGeometry(const QByteArray& geometry) { settings_.setValue(kGeometry, geometry); }
QByteArray Settings::windowState() const { return settings_.value(kState).toByteArray(); }
void Settings::setWindowState(const QByteArray& state) { settings_.setValue(kState, state); }
QByteArray Settings::splitterState(const QString& name) const { return settings_.value(kSplitter + name).toByteArray(); }
void Settings::setSplitterState(const QString& name, const QByteArray& state) { settings_.setValue(kSplitter + name, state); }

double Settings::lastBudget() const { return settings_.value(kBudget, 4.0).toDouble(); }
void Settings::setLastBudget(double bits) { settings_.setValue(kBudget, bits); }
QString Settings::lastMethod() const { return settings_.value(kMethod, QStringLiteral("scalebits")).toString(); }
void Settings::setLastMethod(const QString& method) { settings_.setValue(kMethod, method); }

}  // namespace scalebits::ui
