#pragma once
// What the explorer's tests set up again and again: the small real analysis they open, a main
// window with an analysis on screen, and an export through the export dialog.
#include <QSignalSpy>
#include <QString>

#include <filesystem>
#include <memory>

#include "core/analysis/analyze.h"
#include "core/model/checkpoint.h"
#include "core/model/llama.h"
#include "hang_guard.h"
#include "ui/main_window.h"
#include "ui/views/export_dialog.h"

namespace scalebits::testing {

// stories260K, 4 x 64 calibration tokens, 32x32 tiles, groups of 16, saved to `file`.
inline std::shared_ptr<const analysis::Analysis> stories_analysis(const std::filesystem::path& file) {
    const std::filesystem::path data = SCALEBITS_SHARED_DATA;
    const auto ckpt = model::load_checkpoint(data / "stories260K" / "stories260K.bin", data / "stories260K" / "tok512.bin");
    model::LlamaModel m(ckpt);
    analysis::AnalysisOptions o;
    o.calib_text = data / "c4" / "c4-sample.utf8";
    o.samples = 4;
    o.seq_len = 64;
    o.tile_rows = o.tile_cols = 32;
    o.group = 16;
    return std::make_shared<const analysis::Analysis>(analysis::analyze(ckpt, m, o, file));
}

// Shows `analysis` in `window` and waits until its allocators are ready; false on the hang guard.
inline bool show_analysis(ui::MainWindow& window, std::shared_ptr<const analysis::Analysis> analysis, const QString& source) {
    QSignalSpy ready(window.controller(), &ui::AllocationController::analysisReady);
    window.setAnalysis(std::move(analysis), source);
    return ready.wait(kHangGuardMs) || ready.count() > 0;
}

// Exports `allocation` into `folder` through the export dialog (a latency run of `latency_steps`
// tokens when > 0) and waits for it; false when it did not finish.
inline bool export_with_dialog(std::shared_ptr<const analysis::Analysis> analysis,
                               std::shared_ptr<const analysis::Allocation> allocation, double budget_bits,
                               const QString& folder, int latency_steps = 0) {
    ui::ExportDialog dialog(std::move(analysis), std::move(allocation), budget_bits);
    dialog.setFolder(folder);
    dialog.setLatencySteps(latency_steps);
    QSignalSpy exported(&dialog, &ui::ExportDialog::exported);
    dialog.start();
    return exported.wait(kHangGuardMs);
}

}  // namespace scalebits::testing
