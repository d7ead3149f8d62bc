// Every plot of the explorer leaves as PNG, SVG and CSV: the image files are real images of the
// widget, and the CSV holds the numbers on screen.
#include <QFile>
#include <QImage>
#include <QTemporaryDir>
#include <QtTest>

#include "explorer_fixtures.h"
#include "hang_guard.h"

#include "core/analysis/synthetic.h"
#include "core/util/error.h"
#include "ui/main_window.h"
#include "ui/views/figure_export.h"
#include "ui/views/model_map.h"
#include "ui/views/rate_quality_plot.h"
#include "ui/views/width_histogram.h"

using namespace scalebits;
using scalebits::testing::kHangGuardMs;

namespace {
QStringList lines(const QString& text) { return text.split(QLatin1Char('\n'), Qt::SkipEmptyParts); }
}  // namespace

class TestFigures : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;

    // PNG and SVG of `figure` are written and read back as what they claim to be.
    void checkImages(QWidget* figure, const QString& name) {
        const QString png = tmp_.filePath(name + QStringLiteral(".png")), svg = tmp_.filePath(name + QStringLiteral(".svg"));
        ui::saveFigureImage(figure, png);
        ui::saveFigureImage(figure, svg);
        const QImage image(png);
        QCOMPARE(image.size(), figure->size() * figure->devicePixelRatio());
        QFile f(svg);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray head = f.read(512);
        QVERIFY2(head.contains("<svg"), head.constData());
        QCOMPARE(figure->contextMenuPolicy(), Qt::CustomContextMenu);
    }

private Q_SLOTS:
    void everyPlotLeavesAsImageAndData() {
        QVERIFY(tmp_.isValid());
        auto o = analysis::smollm2_like(5);
        o.config.n_layers = 3;
        const auto a = std::make_shared<const analysis::Analysis>(analysis::make_synthetic_analysis(o));
        ui::MainWindow window;
        QSignalSpy curves(window.controller(), &ui::AllocationController::rateQualityChanged);
        QVERIFY(scalebits::testing::show_analysis(window, a, QStringLiteral("synthetic")));
        QTRY_COMPARE_WITH_TIMEOUT(curves.count(), 1, kHangGuardMs);
        window.resize(1400, 900);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        window.controller()->setBudget(3.5);
        window.rateQualityPlot()->addMeasurement(QStringLiteral("scalebits"), 3.5, 31.25);

        // Width histogram: one row per width 2..8 and fp16, the shares summing to 100.
        auto* histogram = window.findChild<ui::WidthHistogram*>();
        QVERIFY(histogram);
        checkImages(histogram, QStringLiteral("histogram"));
        const QStringList h = lines(histogram->csv());
        QCOMPARE(h.front(), QStringLiteral("width,percent_of_weights"));
        QCOMPARE(h.size(), 1 + 8);
        double sum = 0;
        for (int i = 1; i < h.size(); ++i) sum += h[i].section(QLatin1Char(','), 1).toDouble();
        QVERIFY(std::abs(sum - 100.0) < 1e-6);
        ui::saveText(tmp_.filePath(QStringLiteral("histogram.csv")), histogram->csv());
        QVERIFY(QFile::exists(tmp_.filePath(QStringLiteral("histogram.csv"))));

        // Rate-quality: every curve point and the measured point.
        auto* rq = window.rateQualityPlot();
        checkImages(rq, QStringLiteral("rate-quality"));
        const QString r = rq->csv();
        QVERIFY(r.startsWith(QStringLiteral("kind,method,avg_bits,value\n")));
        QVERIFY(r.contains(QStringLiteral("measured_ppl,scalebits,3.5,31.25")));
        for (const QString& m : ui::AllocationController::methodNames())
            QVERIFY2(r.contains(QStringLiteral("predicted_loss,") + m + QLatin1Char(',')), qPrintable(m));

        // Model map: one row per matrix.
        auto* map = window.modelMap();
        checkImages(map->plot(), QStringLiteral("model-map"));
        QCOMPARE(lines(map->csv()).size(), 1 + int(a->matrices.size()));

        // File > Export figure lists every figure; what it saves goes by the suffix.
        QStringList entries;
        for (QAction* act : window.figureMenu()->actions())
            if (!act->isSeparator()) entries << act->text().remove(QLatin1Char('&'));
        for (const char* want : {"Heatmaps as image…", "Heatmap data as CSV…", "Model map…", "Width histogram…", "Rate-quality plot…"})
            QVERIFY2(entries.contains(QString::fromUtf8(want)), qPrintable(entries.join(QStringLiteral(" | "))));
        const QString csv = tmp_.filePath(QStringLiteral("by-suffix.csv")), svg = tmp_.filePath(QStringLiteral("by-suffix.svg"));
        ui::saveFigure(map->plot(), csv, [map] { return map->csv(); });
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly | QIODevice::Text));
        QCOMPARE(QString::fromUtf8(f.readAll()), map->csv());
        ui::saveFigure(rq, svg, [rq] { return rq->csv(); });
        QFile g(svg);
        QVERIFY(g.open(QIODevice::ReadOnly));
        QVERIFY(g.read(512).contains("<svg"));
        QVERIFY_THROWS_EXCEPTION(InputError, ui::saveFigure(rq, tmp_.filePath(QStringLiteral("none.csv")), {}));
    }
};

QTEST_MAIN(TestFigures)
#include "tst_figures.moc"
