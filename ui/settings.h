#pragma once
// Every setting the explorer keeps between runs, behind typed getters and setters (one place for
// keys and defaults; nothing else in ui touches QSettings).
#include <QByteArray>
#include <QSettings>
#include <QString>
#include <QStringList>

namespace scalebits::ui {

class Settings {
public:
    // Uses the application's organization/name; `file` (tests) selects an INI file instead.
    Settings();
    explicit Settings(const QString& file);

    static constexpr int kMaxRecentFiles = 8;
    QStringList recentFiles() const;
    // Moves `path` to the front, drops duplicates and files beyond kMaxRecentFiles.
    void addRecentFile(const QString& path);
    void removeRecentFile(const QString& path);

    QByteArray windowGeometry() const;
    void setWindowGeometry(const QByteArray& geometry);
    QByteArray windowState() const;
    void setWindowState(const QByteArray& state);
    QByteArray splitterState(const QString& name) const;
    void setSplitterState(const QString& name, const QByteArray& state);

    double lastBudget() const;  // bits per weight; 4.0 on first start
    void setLastBudget(double bits);
    QString lastMethod() const;  // an alloc method name; "scalebits" on first start
    void setLastMethod(const QString& method);

private:
    QSettings settings_;
};

}  // namespace scalebits::ui
