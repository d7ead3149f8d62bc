// The scalebits explorer. Arguments only choose what to open; everything else is ui/ and core/.
//   scalebits [ANALYSIS]
//   scalebits --screenshot FILE.png [--analysis A | --synthetic N] [--budget B] [--method M]
// --screenshot renders the main window once the allocation and the rate-quality curves are in, saves
// it and exits (run with QT_QPA_PLATFORM=offscreen on machines without a display);
// --screenshot-inspect ROW,COL pins that tile first and draws its inspector tooltip into the image.
#include <QApplication>
#include <QCommandLineParser>
#include <QTableView>
#include <QPainter>
#include <QTimer>
#include <QToolTip>

#include <cstdio>
#include <memory>

#include "core/analysis/synthetic.h"
#include "core/util/allocator_tuning.h"
#include "core/util/blas_core.h"
#include "ui/main_window.h"
#include "ui/controllers/background_job.h"
#include "ui/views/budget_panel.h"
#include "ui/views/compare_dialog.h"
#include "ui/views/export_dialog.h"
#include "ui/views/heatmap_plot.h"
#include "ui/views/heatmap_view.h"

using namespace scalebits;

int main(int argc, char** argv) {
    scalebits::util::relaunch_with_known_blas_core(argv);
    scalebits::util::keep_freed_memory_for_reuse();
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("scalebits"));
    QApplication::setApplicationName(QStringLiteral("scalebits"));
    QApplication::setApplicationVersion(QStringLiteral("0.1"));
    Q_INIT_RESOURCE(scalebits);  // the icons live in the static ui library

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("ScaleBITS explorer: per-tile sensitivity and bit allocation"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption screenshot(QStringLiteral("screenshot"), QStringLiteral("Save the window to FILE.png and exit."), QStringLiteral("file"));
    const QCommandLineOption analysisOpt(QStringLiteral("analysis"), QStringLiteral("Analysis file to open."), QStringLiteral("file"));
    const QCommandLineOption synthetic(QStringLiteral("synthetic"), QStringLiteral("Open a synthetic analysis of at least N tiles (0: SmolLM2-shaped)."), QStringLiteral("N"));
    const QCommandLineOption budget(QStringLiteral("budget"), QStringLiteral("Bits per weight."), QStringLiteral("bits"));
    const QCommandLineOption method(QStringLiteral("method"), QStringLiteral("Allocation method."), QStringLiteral("name"));
    const QCommandLineOption matrix(QStringLiteral("matrix"), QStringLiteral("Row of the layer table to show."), QStringLiteral("row"));
    const QCommandLineOption exportShot(QStringLiteral("screenshot-export"),
                                        QStringLiteral("Export the allocation to FOLDER, measure latency, save the export dialog to --screenshot and exit."),
                                        QStringLiteral("folder"));
    const QCommandLineOption compareShot(QStringLiteral("screenshot-compare"),
                                         QStringLiteral("Save the compare view (the budget on screen against half a bit more) to --screenshot and exit."));
    const QCommandLineOption inspectShot(QStringLiteral("screenshot-inspect"),
                                         QStringLiteral("Pin tile ROW,COL of the reordered width heatmap at 8 bits and save the window with that "
                                                        "tile's inspector tooltip to --screenshot."),
                                         QStringLiteral("row,col"));
    parser.addOptions({screenshot, analysisOpt, synthetic, budget, method, matrix, exportShot, compareShot, inspectShot});
    parser.addPositionalArgument(QStringLiteral("analysis"), QStringLiteral("Analysis file to open."), QStringLiteral("[analysis]"));
    parser.process(app);

    auto fail = [](const QString& message) {
        std::fprintf(stderr, "scalebits: %s\n", qPrintable(message));
        return 2;
    };

    ui::MainWindow window;
    if (parser.isSet(method)) {
        window.budgetPanel()->setMethod(parser.value(method));
        window.controller()->setMethod(parser.value(method));
    }
    if (parser.isSet(budget)) {
        bool ok = false;
        const double bits = parser.value(budget).toDouble(&ok);
        if (!ok || bits <= 0) return fail(QStringLiteral("--budget needs a positive number of bits per weight"));
        window.controller()->setBudget(bits);
    }
    if (parser.isSet(synthetic)) {
        bool ok = false;
        const qlonglong tiles = parser.value(synthetic).toLongLong(&ok);
        if (!ok || tiles < 0) return fail(QStringLiteral("--synthetic needs a tile count (0 for SmolLM2-shaped)"));
        try {
            auto options = tiles == 0 ? analysis::smollm2_like() : analysis::llama_like_for_tiles(tiles);
            window.setAnalysis(std::make_shared<const analysis::Analysis>(analysis::make_synthetic_analysis(options)),
                               tiles == 0 ? QStringLiteral("synthetic SmolLM2-135M")
                                          : QStringLiteral("synthetic, %1 tiles").arg(tiles));
        } catch (const std::exception& e) {
            return fail(QString::fromStdString(e.what()));
        }
    } else {
        QString file = parser.value(analysisOpt);
        if (file.isEmpty() && !parser.positionalArguments().isEmpty()) file = parser.positionalArguments().front();
        if (!file.isEmpty())
            window.openFile(file);
        else if (!parser.isSet(screenshot))
            QTimer::singleShot(0, &window, [&window] { window.offerDefaultModel(); });
    }
    int exitCode = 0;
    if (parser.isSet(matrix)) {
        const int row = parser.value(matrix).toInt();
        QObject::connect(window.controller(), &ui::AllocationController::analysisReady, &window,
                         [&window, row] { window.layerView()->selectRow(row); });
    }

    if (!parser.isSet(screenshot)) {
        window.show();
        return app.exec();
    }
    // Screenshot: wait for the first solution and the curves, let queued replots run, grab, exit.
    const QString out = parser.value(screenshot);
    window.show();
    QObject::connect(&window, &ui::MainWindow::fileFailed, &app, [&](const QString& message) {
        exitCode = fail(message);
        app.exit(exitCode);
    });
    QObject::connect(window.controller(), &ui::AllocationController::rateQualityChanged, &app, [&] {
        if (parser.isSet(exportShot)) {
            // The export dialog after a latency run: export, measure, grab the dialog.
            const auto solution = window.controller()->solution();
            auto* dialog = new ui::ExportDialog(window.controller()->analysis(), solution->allocation(), solution->budget_bits,
                                                &window);
            dialog->setFolder(parser.value(exportShot));
            dialog->setLatencySteps(32);
            QObject::connect(dialog->job(), &ui::BackgroundJob::failed, &app, [&](const QString& message) {
                exitCode = fail(message);
                app.exit(exitCode);
            });
            QObject::connect(dialog, &ui::ExportDialog::exported, &app, [&, dialog] {
                QTimer::singleShot(300, &app, [&, dialog] {
                    if (!dialog->grab().save(out)) exitCode = fail(QStringLiteral("cannot write %1").arg(out));
                    std::printf("%s\n", qPrintable(dialog->reportText()));
                    app.exit(exitCode);
                });
            });
            dialog->show();
            dialog->start();
            return;
        }
        if (parser.isSet(inspectShot)) {
            const QStringList rc = parser.value(inspectShot).split(QLatin1Char(','));
            auto* plot = window.heatmaps()->plot(3);
            const int row = rc.value(0).toInt(), col = rc.value(1).toInt();
            if (rc.size() != 2 || row < 0 || col < 0 || row >= plot->gridRows() || col >= plot->gridCols()) {
                exitCode = fail(QStringLiteral("--screenshot-inspect needs ROW,COL inside the %1 x %2 tile grid")
                                    .arg(plot->gridRows())
                                    .arg(plot->gridCols()));
                app.exit(exitCode);
                return;
            }
            // First pass: pin the tile; the pin's own rate-quality update comes back here.
            const int matrixIndex = window.heatmaps()->matrix();
            const qint64 tile = qint64(row) * plot->gridCols() + col;
            if (window.controller()->tilePin(matrixIndex, tile) == 0) {
                window.controller()->setTilePin(matrixIndex, tile, 8);
                return;
            }
            QTimer::singleShot(300, &app, [&, plot, row, col] {
                const QPoint cell(int(plot->xAxis->coordToPixel(col)), int(plot->yAxis->coordToPixel(row)));
                QToolTip::showText(plot->mapToGlobal(cell), plot->describeCell(row, col), plot);
                QTimer::singleShot(300, &app, [&] {
                    // The tooltip is a window of its own: drawn onto the main window's image where it stands.
                    QPixmap image = window.grab();
                    QPainter painter(&image);
                    for (QWidget* w : QApplication::topLevelWidgets())
                        if (w->isVisible() && w->inherits("QTipLabel")) painter.drawPixmap(window.mapFromGlobal(w->pos()), w->grab());
                    painter.end();
                    if (!image.save(out)) exitCode = fail(QStringLiteral("cannot write %1").arg(out));
                    app.exit(exitCode);
                });
            });
            return;
        }
        QWidget* shot = &window;
        if (parser.isSet(compareShot)) {
            auto* dialog = new ui::CompareDialog(window.controller(), window.heatmaps()->matrix(), &window);
            dialog->show();
            shot = dialog;
        }
        QTimer::singleShot(300, &app, [&, shot] {
            if (!shot->grab().save(out)) exitCode = fail(QStringLiteral("cannot write %1").arg(out));
            app.exit(exitCode);
        });
    });
    QTimer::singleShot(parser.isSet(exportShot) ? 900000 : 120000, &app, [&] {
        exitCode = fail(QStringLiteral("timed out waiting for the analysis"));
        app.exit(exitCode);
    });
    const int rc = app.exec();
    return exitCode != 0 ? exitCode : rc;  // 2: the input was bad (as the CLI)
}
