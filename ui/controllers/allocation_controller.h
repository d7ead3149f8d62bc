#pragma once
// Holds the open analysis and the allocators built from it, and answers budget and method changes
// with immutable allocation values. Building the allocators (sorting every tile's upgrades) runs in a
// worker; a re-solve is a prefix lookup on the ladder and runs on the calling thread, so the slider
// gets its answer before the next repaint. Stale worker results are dropped by job id.
#include <QObject>
#include <QString>
#include <QStringList>
#include <QVector>

#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "core/alloc/methods.h"
#include "core/alloc/tile_problem.h"
#include "core/analysis/allocation.h"
#include "core/analysis/analysis.h"
#include "core/analysis/problem.h"
#include "core/analysis/summary.h"

namespace scalebits::ui {

struct Engine;  // problems and allocators of one analysis (allocation_controller.cpp)

// One answer to one (budget, method) request: the chosen method's allocation plus, for the side by
// side heatmaps, the allocation of each layout at the same budget (the chosen method on its layout,
// the other layout's ladder method, scalebits or tile-noreorder, on the other).
struct Solution {
    AllocMethod method = AllocMethod::ScaleBits;
    double budget_bits = 0.0;
    std::shared_ptr<const TileAllocation> current;
    // `current` as evaluation and export take it: "evaluate at this budget" and the export dialog
    // use this value, so what they measure and write is what is on screen. Built on first use (a
    // few ms at 500,000 tiles, which the slider should not pay on every step); thread-safe.
    std::shared_ptr<const analysis::Allocation> allocation() const;
    std::function<analysis::Allocation()> make_allocation;  // set by the controller
    mutable std::once_flag allocation_once;
    mutable std::shared_ptr<const analysis::Allocation> allocation_value;
    std::shared_ptr<const TileAllocation> original_layout;
    std::shared_ptr<const TileAllocation> reordered_layout;
    analysis::AllocationSummary summary;        // of `current`
    std::vector<std::int64_t> tile_offsets;     // first tile of each matrix in the widths
    // The single tiles' pins of these allocations, by matrix name then tile index (shown by the tile
    // inspector): those of the allocators that solved it; never null once solved.
    std::shared_ptr<const std::map<std::string, std::map<std::int64_t, int>>> tile_pins;
};

// Predicted loss against average bits per weight, per method, at a grid of budgets.
struct RateQuality {
    struct Curve {
        QString method;
        QVector<double> avg_bits, predicted_loss;
    };
    QVector<Curve> curves;
};

class AllocationController : public QObject {
    Q_OBJECT
public:
    explicit AllocationController(QObject* parent = nullptr);
    ~AllocationController() override;

    // The methods the explorer offers (group needs its own problem and is CLI-only).
    static QStringList methodNames();

    std::shared_ptr<const analysis::Analysis> analysis() const { return analysis_; }
    std::shared_ptr<const Solution> solution() const { return solution_; }
    bool ready() const { return engine_ != nullptr; }
    double minBits() const;  // reachable average width range of the scalebits allocator
    double maxBits() const;
    double budget() const { return budget_; }
    QString method() const;
    const analysis::ProblemOptions& constraints() const { return constraints_; }
    int tilePin(int matrix, qint64 tile) const;  // 0 when the tile has none
    bool pinsOnReorderedLayout() const;          // the layout the current method allocates

    // A solution for any tile method and budget on the current allocators, without changing what is on
    // screen (the compare view). Throws InputError for an infeasible budget; null before ready().
    std::shared_ptr<const Solution> solutionFor(AllocMethod method, const Budget& budget) const;

    // The TileProblem behind the chosen layout (tests compare against the core allocator with it).
    const TileProblem* problem(bool reordered) const;

public Q_SLOTS:
    // Builds problems and allocators in a worker; analysisReady follows, then a solution at the
    // current budget (clamped to the reachable range) and the rate-quality curves.
    void setAnalysis(std::shared_ptr<const scalebits::analysis::Analysis> analysis);
    void setBudget(double bits);
    // The largest allocation whose model file fits `bytes`; the budget becomes its average width.
    void setBudgetBytes(qint64 bytes);
    void setMethod(const QString& method);  // an alloc method name; errorOccurred on an unknown one
    // Pins and width limits (by matrix name, layer prefix or kind): the allocators are rebuilt in a
    // worker, then analysisReady and a new solution follow as for a new analysis.
    void setConstraints(const scalebits::analysis::ProblemOptions& constraints);
    // The tile inspector: pins tile `tile` of analysis matrix `matrix` at `bits`, or removes its pin
    // (bits 0). Tile indices are row-major over the tile grid of the layout the method allocates
    // (pinsOnReorderedLayout). Once the allocators are ready, rangeChanged and the new solution
    // follow before this returns (the allocators share all but the pins); while they are being built,
    // the pin joins that build.
    void setTilePin(int matrix, qint64 tile, int bits);
    // Pins the tile at its width in the solution on screen, or removes its pin when it has one.
    void toggleTilePin(int matrix, qint64 tile);

Q_SIGNALS:
    void analysisReady(std::shared_ptr<const scalebits::analysis::Analysis> analysis);
    // The reachable budget range changed without a new analysis (a tile pin).
    void rangeChanged(double minBits, double maxBits);
    void allocationChanged(std::shared_ptr<const scalebits::TileAllocation> allocation);
    void solutionChanged(std::shared_ptr<const scalebits::ui::Solution> solution);
    void rateQualityChanged(std::shared_ptr<const scalebits::ui::RateQuality> curves);
    void errorOccurred(const QString& message);

private:
    void rebuild();
    void solve();
    void solve(const Budget& budget);
    void computeRateQuality();

    std::shared_ptr<const analysis::Analysis> analysis_;
    std::shared_ptr<const Engine> engine_;
    std::shared_ptr<const Solution> solution_;
    analysis::ProblemOptions constraints_;
    AllocMethod method_ = AllocMethod::ScaleBits;
    double budget_ = 4.0;
    quint64 job_ = 0;
};

}  // namespace scalebits::ui

Q_DECLARE_METATYPE(std::shared_ptr<const scalebits::analysis::Analysis>)
Q_DECLARE_METATYPE(std::shared_ptr<const scalebits::TileAllocation>)
Q_DECLARE_METATYPE(std::shared_ptr<const scalebits::ui::Solution>)
Q_DECLARE_METATYPE(std::shared_ptr<const scalebits::ui::RateQuality>)
