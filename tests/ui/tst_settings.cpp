// The typed settings class: defaults on first start, recent files ordered, deduplicated and capped.
#include <QTemporaryDir>
#include <QtTest>

#include "ui/settings.h"

using scalebits::ui::Settings;

class TestSettings : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void defaultsAndRoundTrip() {
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("s.ini"));
        {
            Settings s(file);
            QCOMPARE(s.lastBudget(), 4.0);
            QCOMPARE(s.lastMethod(), QStringLiteral("scalebits"));
            QVERIFY(s.recentFiles().isEmpty());
            s.setLastBudget(3.25);
            s.setLastMethod(QStringLiteral("layer"));
            s.setWindowGeometry(QByteArray("geom"));
        }
        Settings again(file);
        QCOMPARE(again.lastBudget(), 3.25);
        QCOMPARE(again.lastMethod(), QStringLiteral("layer"));
        QCOMPARE(again.windowGeometry(), QByteArray("geom"));
    }

    void recentFiles() {
        QTemporaryDir dir;
        Settings s(dir.filePath(QStringLiteral("s.ini")));
        for (int i = 0; i < Settings::kMaxRecentFiles + 3; ++i) s.addRecentFile(QStringLiteral("/a/%1").arg(i));
        QCOMPARE(s.recentFiles().size(), Settings::kMaxRecentFiles);
        QCOMPARE(s.recentFiles().front(), QStringLiteral("/a/%1").arg(Settings::kMaxRecentFiles + 2));
        s.addRecentFile(QStringLiteral("/a/5"));
        QCOMPARE(s.recentFiles().front(), QStringLiteral("/a/5"));
        QCOMPARE(s.recentFiles().count(QStringLiteral("/a/5")), 1);
        s.removeRecentFile(QStringLiteral("/a/5"));
        QVERIFY(!s.recentFiles().contains(QStringLiteral("/a/5")));
    }
};

QTEST_GUILESS_MAIN(TestSettings)
#include "tst_settings.moc"
