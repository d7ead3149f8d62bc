#include "ui/controllers/allocation_controller.h"

#include <QFuture>
#include <QLoggingCategory>
#include <QtConcurrent>

#include <algorithm>
#include <exception>

#include "core/analysis/allocation.h"
#include "core/analysis/problem.h"
#include "core/util/error.h"
#include "ui/controllers/when_finished.h"

Q_LOGGING_CATEGORY(lcAlloc, "scalebits.ui.allocation")

namespace scalebits::ui {

// Immutable once built: the worker builds it, the UI thread and the rate-quality worker only read it.
// Which layout and table each method uses is core's rule (analysis::AllocationEngine); the explorer
// only adds the summaries of its two heatmap layouts. Another set of tile pins makes a new Engine
// that shares everything but the pins (AllocationEngine::with_tile_pins), on the UI thread.
struct Engine {
    Engine(const analysis::Analysis& a, const analysis::ProblemOptions& constraints)
        : tile_pins(constraints.tile_pins),
          allocations(std::make_shared<const analysis::AllocationEngine>(a, constraints)),
          summarize_original(std::make_shared<const analysis::AllocationSummarizer>(allocations->problem(AllocMethod::TileNoReorder))),
          summarize_reordered(std::make_shared<const analysis::AllocationSummarizer>(allocations->problem(AllocMethod::ScaleBits))) {}
    Engine(const Engine& from, const analysis::Analysis& a, const analysis::ProblemOptions& constraints)
        : tile_pins(constraints.tile_pins),
          allocations(from.allocations->with_tile_pins(a, constraints)),
          summarize_original(from.summarize_original),
          summarize_reordered(from.summarize_reordered) {}
    std::map<std::string, std::map<std::int64_t, int>> tile_pins;  // the pins these allocators keep
    std::shared_ptr<const analysis::AllocationEngine> allocations;
    // The summaries depend on the layouts' tile grids only, not on pins.
    std::shared_ptr<const analysis::AllocationSummarizer> summarize_original, summarize_reordered;

    const analysis::AllocationSummarizer& summarizer(AllocMethod m) const {
        return analysis::method_uses_reordered_layout(m) ? *summarize_reordered : *summarize_original;
    }
};

namespace {

std::shared_ptr<const Engine> build_engine(const analysis::Analysis& a, const analysis::ProblemOptions& constraints) {
    return std::make_shared<const Engine>(a, constraints);
}

struct EngineResult {
    std::shared_ptr<const Engine> engine;
    QString error;
};

}  // namespace

AllocationController::AllocationController(QObject* parent) : QObject(parent) {
    qRegisterMetaType<std::shared_ptr<const analysis::Analysis>>();
    qRegisterMetaType<std::shared_ptr<const TileAllocation>>();
    qRegisterMetaType<std::shared_ptr<const Solution>>();
    qRegisterMetaType<std::shared_ptr<const RateQuality>>();
}

AllocationController::~AllocationController() = default;

QStringList AllocationController::methodNames() {
    QStringList names;
    for (AllocMethod m : analysis::tile_methods()) names << QString::fromLatin1(alloc_method_name(m));
    return names;
}

double AllocationController::minBits() const { return engine_ ? engine_->allocations->min_avg_bits(AllocMethod::ScaleBits) : 0.0; }
double AllocationController::maxBits() const { return engine_ ? engine_->allocations->max_avg_bits(AllocMethod::ScaleBits) : 0.0; }
QString AllocationController::method() const { return QString::fromLatin1(alloc_method_name(method_)); }

const TileProblem* AllocationController::problem(bool reordered) const {
    if (!engine_) return nullptr;
    return &engine_->allocations->problem(reordered ? AllocMethod::ScaleBits : AllocMethod::TileNoReorder);
}

void AllocationController::setAnalysis(std::shared_ptr<const analysis::Analysis> analysis) {
    constraints_ = {};
    analysis_ = std::move(analysis);
    rebuild();
}

void AllocationController::setConstraints(const analysis::ProblemOptions& constraints) {
    constraints_ = constraints;
    rebuild();
}

void AllocationController::setTilePin(int matrix, qint64 tile, int bits) {
    if (!analysis_ || matrix < 0 || std::size_t(matrix) >= analysis_->matrices.size()) return;
    const std::string& name = analysis_->matrices[std::size_t(matrix)].name;
    auto& pins = constraints_.tile_pins[name];
    if (bits == 0)
        pins.erase(tile);
    else
        pins[tile] = bits;
    if (pins.empty()) constraints_.tile_pins.erase(name);
    // While allocators are being built (engine_ is null) the pin joins the next build; otherwise the
    // allocators take it at once, sharing everything else, and the solution follows in this call.
    if (!engine_) return rebuild();
    std::shared_ptr<const Engine> pinned;
    try {
        pinned = std::make_shared<const Engine>(*engine_, *analysis_, constraints_);
    } catch (const std::exception& e) {
        constraints_.tile_pins = engine_->tile_pins;  // the allocators on screen keep their pins
        Q_EMIT errorOccurred(tr("Could not pin the tile: %1").arg(QString::fromStdString(e.what())));
        return;
    }
    ++job_;  // curves of the previous pins are stale
    engine_ = std::move(pinned);
    budget_ = std::clamp(budget_, minBits(), maxBits());
    Q_EMIT rangeChanged(minBits(), maxBits());
    solve();
    computeRateQuality();
}

void AllocationController::toggleTilePin(int matrix, qint64 tile) {
    if (!solution_ || matrix < 0 || std::size_t(matrix) >= solution_->tile_offsets.size()) return;
    if (tilePin(matrix, tile) != 0) return setTilePin(matrix, tile, 0);
    const std::size_t t = std::size_t(solution_->tile_offsets[std::size_t(matrix)] + tile);
    if (t < solution_->current->widths.size()) setTilePin(matrix, tile, solution_->current->widths[t]);
}

int AllocationController::tilePin(int matrix, qint64 tile) const {
    if (!analysis_ || matrix < 0 || std::size_t(matrix) >= analysis_->matrices.size()) return 0;
    const auto it = constraints_.tile_pins.find(analysis_->matrices[std::size_t(matrix)].name);
    if (it == constraints_.tile_pins.end()) return 0;
    const auto pin = it->second.find(tile);
    return pin == it->second.end() ? 0 : pin->second;
}

bool AllocationController::pinsOnReorderedLayout() const { return analysis::method_uses_reordered_layout(method_); }

void AllocationController::rebuild() {
    const quint64 job = ++job_;
    engine_.reset();
    solution_.reset();
    if (!analysis_) return;
    auto input = analysis_;
    auto constraints = constraints_;
    auto work = QtConcurrent::run([input, constraints]() -> EngineResult {
        try {
            return {build_engine(*input, constraints), {}};
        } catch (const std::exception& e) {
            return {nullptr, QString::fromStdString(e.what())};
        }
    });
    whenFinished(this, work, [this, job, input](EngineResult r) {
        if (job != job_ || input != analysis_) return;  // a newer analysis was opened meanwhile
        if (!r.engine) {
            Q_EMIT errorOccurred(tr("Could not prepare the allocation: %1").arg(r.error));
            return;
        }
        engine_ = r.engine;
        qCInfo(lcAlloc) << "allocators ready:" << engine_->allocations->problem(AllocMethod::ScaleBits).tile_count() << "tiles";
        budget_ = std::clamp(budget_, minBits(), maxBits());
        Q_EMIT analysisReady(analysis_);
        // A handler may have set new constraints (a workspace being opened): a newer build follows.
        if (job != job_) return;
        solve();
        computeRateQuality();
    });
}

void AllocationController::setBudget(double bits) {
    budget_ = bits;
    solve();
}

void AllocationController::setMethod(const QString& method) {
    AllocMethod m{};
    try {
        m = parse_alloc_method(method.toStdString());
    } catch (const std::exception& e) {
        Q_EMIT errorOccurred(QString::fromStdString(e.what()));
        return;
    }
    if (!methodNames().contains(method)) {
        Q_EMIT errorOccurred(tr("The %1 method gives one width per row-group, which the packed format cannot run; the "
                                "explorer offers the tile methods only.")
                                 .arg(method));
        return;
    }
    method_ = m;
    solve();
}

void AllocationController::setBudgetBytes(qint64 bytes) { solve(Budget::bytes(static_cast<double>(bytes))); }

void AllocationController::solve() { solve(Budget::bits_per_weight(budget_)); }

std::shared_ptr<const analysis::Allocation> Solution::allocation() const {
    std::call_once(allocation_once, [this] {
        if (make_allocation) allocation_value = std::make_shared<const analysis::Allocation>(make_allocation());
    });
    return allocation_value;
}

std::shared_ptr<const Solution> AllocationController::solutionFor(AllocMethod method, const Budget& budget) const {
    if (!engine_) return nullptr;
    const Engine& e = *engine_;
    auto s = std::make_shared<Solution>();
    s->method = method;
    TileAllocation tiles = e.allocations->solve_tiles(method, budget);
    // A size to fit comes back as the average width it reached.
    s->budget_bits = budget.unit == Budget::Unit::Bytes ? tiles.avg_bits : budget.value;
    s->summary = e.summarizer(method).summarize(tiles);
    s->current = std::make_shared<const TileAllocation>(std::move(tiles));
    s->make_allocation = [engine = engine_, method, tiles = s->current] { return engine->allocations->to_allocation(method, *tiles); };
    // The other layout's heatmap shows its ladder method at the same budget.
    auto other = [&](AllocMethod m) { return std::make_shared<const TileAllocation>(e.allocations->solve_tiles(m, budget)); };
    if (analysis::method_uses_reordered_layout(method)) {
        s->reordered_layout = s->current;
        s->original_layout = other(AllocMethod::TileNoReorder);
    } else {
        s->original_layout = s->current;
        s->reordered_layout = other(AllocMethod::ScaleBits);
    }
    s->tile_offsets = e.summarize_original->tile_offsets();
    s->tile_pins = std::shared_ptr<const std::map<std::string, std::map<std::int64_t, int>>>(engine_, &e.tile_pins);
    return s;
}

void AllocationController::solve(const Budget& budget) {
    if (!engine_) return;
    try {
        auto s = solutionFor(method_, budget);
        budget_ = s->budget_bits;
        solution_ = s;
        Q_EMIT allocationChanged(s->current);
        Q_EMIT solutionChanged(solution_);
    } catch (const std::exception& ex) {
        // Typically a budget below what the method can reach; the message says by how much.
        Q_EMIT errorOccurred(QString::fromStdString(ex.what()));
    }
}

void AllocationController::computeRateQuality() {
    const quint64 job = job_;
    auto engine = engine_;
    const double lo = minBits(), hi = maxBits();
    auto work = QtConcurrent::run([engine, lo, hi]() {
        auto rq = std::make_shared<RateQuality>();
        constexpr int kPoints = 48;
        for (AllocMethod m : analysis::tile_methods()) {
            RateQuality::Curve curve;
            curve.method = QString::fromLatin1(alloc_method_name(m));
            for (int i = 0; i <= kPoints; ++i) {
                const double bits = lo + (hi - lo) * i / kPoints;  // the grid of budgets, not a result
                try {
                    const TileAllocation a = engine->allocations->solve_tiles(m, Budget::bits_per_weight(bits));
                    curve.avg_bits << a.avg_bits;
                    curve.predicted_loss << a.predicted_loss;
                } catch (const std::exception&) {
                    // Below this method's cheapest allocation: no point.
                }
            }
            rq->curves << curve;
        }
        return std::shared_ptr<const RateQuality>(rq);
    });
    whenFinished(this, work, [this, job](std::shared_ptr<const RateQuality> rq) {
        if (job == job_ && rq) Q_EMIT rateQualityChanged(rq);
    });
}

}  // namespace scalebits::ui
