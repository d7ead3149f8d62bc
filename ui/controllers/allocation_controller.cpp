#include "ui/controllers/allocation_controller.h"

#include <QFuture>
#include <QLoggingCategory>
#include <QtConcurrent>

#include <algorithm>
#include <exception>

#include "core/alloc/allocator.h"
#include "core/alloc/uniform.h"
#include "core/analysis/problem.h"
#include "core/util/error.h"
#include "ui/controllers/when_finished.h"

Q_LOGGING_CATEGORY(lcAlloc, "scalebits.ui.allocation")

namespace scalebits::ui {

// Immutable once built: the worker builds it, the UI thread and the rate-quality worker only read it.
struct Engine {
    TileProblem original, reordered;
    std::unique_ptr<TileAllocator> scalebits;   // reordered layout
    std::unique_ptr<TileAllocator> noreorder;   // original layout
    std::unique_ptr<LayerAllocator> layer;      // original layout (a per-matrix width ignores tile order)
    std::unique_ptr<analysis::AllocationSummarizer> summarize_original, summarize_reordered;

    // Which layout a method allocates on: only scalebits uses the reordered tables.
    static bool reorderedLayout(AllocMethod m) { return m == AllocMethod::ScaleBits; }

    TileAllocation solve(AllocMethod method, const Budget& budget) const {
        switch (method) {
        case AllocMethod::ScaleBits: return scalebits->solve(budget);
        case AllocMethod::TileNoReorder: {
            TileAllocation a = noreorder->solve(budget);
            a.method = "tile-noreorder";
            return a;
        }
        case AllocMethod::Layer: return layer->solve(budget);
        case AllocMethod::Uniform: return best_uniform(original, budget);
        case AllocMethod::UniformMix: return uniform_mix(original, budget);
        case AllocMethod::Group: break;
        }
        throw InputError(std::string("method ") + alloc_method_name(method) + " is not available in the explorer");
    }
};

namespace {

std::shared_ptr<const Engine> build_engine(const analysis::Analysis& a, const analysis::ProblemOptions& constraints) {
    auto e = std::make_shared<Engine>();
    e->original = analysis::make_tile_problem(a, {.reordered = false, .constraints = constraints.constraints});
    e->reordered = analysis::make_tile_problem(a, {.reordered = true, .constraints = constraints.constraints});
    e->scalebits = std::make_unique<TileAllocator>(e->reordered);
    e->noreorder = std::make_unique<TileAllocator>(e->original);
    e->layer = std::make_unique<LayerAllocator>(e->original);
    e->summarize_original = std::make_unique<analysis::AllocationSummarizer>(e->original);
    e->summarize_reordered = std::make_unique<analysis::AllocationSummarizer>(e->reordered);
    return e;
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
    for (auto m : {AllocMethod::ScaleBits, AllocMethod::TileNoReorder, AllocMethod::Layer, AllocMethod::Uniform,
                   AllocMethod::UniformMix})
        names << QString::fromLatin1(alloc_method_name(m));
    return names;
}

double AllocationController::minBits() const { return engine_ ? engine_->scalebits->min_avg_bits() : 0.0; }
double AllocationController::maxBits() const { return engine_ ? engine_->scalebits->max_avg_bits() : 0.0; }
QString AllocationController::method() const { return QString::fromLatin1(alloc_method_name(method_)); }

const TileProblem* AllocationController::problem(bool reordered) const {
    if (!engine_) return nullptr;
    return reordered ? &engine_->reordered : &engine_->original;
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
        qCInfo(lcAlloc) << "allocators ready:" << engine_->reordered.tile_count() << "tiles";
        Q_EMIT analysisReady(analysis_);
        budget_ = std::clamp(budget_, minBits(), maxBits());
        solve();
        computeRateQuality();
    });
}

void AllocationController::setBudget(double bits) {
    budget_ = bits;
    solve();
}

void AllocationController::setMethod(const QString& method) {
    try {
        method_ = parse_alloc_method(method.toStdString());
    } catch (const std::exception& e) {
        Q_EMIT errorOccurred(QString::fromStdString(e.what()));
        return;
    }
    solve();
}

void AllocationController::solve() {
    if (!engine_) return;
    const Engine& e = *engine_;
    const Budget budget = Budget::bits_per_weight(budget_);
    try {
        auto s = std::make_shared<Solution>();
        s->method = method_;
        s->budget_bits = budget_;
        s->current = std::make_shared<const TileAllocation>(e.solve(method_, budget));
        if (Engine::reorderedLayout(method_)) {
            s->reordered_layout = s->current;
            s->original_layout = std::make_shared<const TileAllocation>(e.solve(AllocMethod::TileNoReorder, budget));
            s->summary = e.summarize_reordered->summarize(*s->current);
        } else {
            s->original_layout = s->current;
            s->reordered_layout = std::make_shared<const TileAllocation>(e.solve(AllocMethod::ScaleBits, budget));
            s->summary = e.summarize_original->summarize(*s->current);
        }
        s->tile_offsets = e.summarize_original->tile_offsets();
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
        for (auto m : {AllocMethod::ScaleBits, AllocMethod::TileNoReorder, AllocMethod::Layer, AllocMethod::Uniform,
                       AllocMethod::UniformMix}) {
            RateQuality::Curve curve;
            curve.method = QString::fromLatin1(alloc_method_name(m));
            for (int i = 0; i <= kPoints; ++i) {
                const double bits = lo + (hi - lo) * i / kPoints;  // the grid of budgets, not a result
                try {
                    const TileAllocation a = engine->solve(m, Budget::bits_per_weight(bits));
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
