#include "ui/controllers/background_job.h"

#include "core/util/exception_text.h"

#include <QFuture>
#include <QMetaObject>
#include <QPointer>
#include <QtConcurrent>

#include <chrono>
#include <exception>

namespace scalebits::ui {

// Shared between the UI object and the worker, so a worker that outlives a cancel never touches a
// destroyed QObject (it posts through a QPointer).
struct BackgroundJob::State {
    CancelToken token;
    QFuture<void> future;
    std::atomic<qint64> last_report_ms{-1000};
    QElapsedTimer clock, stage_clock;
    QString stage;  // worker thread only
};

BackgroundJob::BackgroundJob(QObject* parent) : QObject(parent) {}

BackgroundJob::~BackgroundJob() {
    if (state_) {
        state_->token.cancel();
        state_->future.waitForFinished();
    }
}

void BackgroundJob::cancel() {
    if (state_) state_->token.cancel();
}

bool BackgroundJob::start(Work work) {
    if (running_) return false;
    running_ = true;
    auto state = std::make_shared<State>();
    state_ = state;
    state->clock.start();
    state->stage_clock.start();
    QPointer<BackgroundJob> self(this);
    auto post = [self](auto fn) {
        QMetaObject::invokeMethod(
            self.data(), [self, fn] { if (self) fn(*self); }, Qt::QueuedConnection);
    };
    state->future = QtConcurrent::run([state, work = std::move(work), post] {
        Progress progress;
        progress.token = &state->token;
        progress.report = [state, post](double done, double total, const std::string& stage) {
            const QString s = QString::fromStdString(stage);
            if (s != state->stage) {
                state->stage = s;
                state->stage_clock.restart();
            }
            const qint64 now = state->clock.elapsed();
            if (now - state->last_report_ms.load() < 100 && done < total) return;
            state->last_report_ms = now;
            const double fraction = total > 0 ? std::clamp(done / total, 0.0, 1.0) : 0.0;
            const double spent = static_cast<double>(state->stage_clock.elapsed()) / 1000.0;
            const double eta = fraction > 0.02 && spent > 1.0 ? spent * (1.0 - fraction) / fraction : -1.0;
            post([fraction, s, eta](BackgroundJob& job) { Q_EMIT job.progressed(fraction, s, eta); });
        };
        try {
            work(progress);
            post([](BackgroundJob& job) {
                job.running_ = false;
                Q_EMIT job.finished();
            });
        } catch (const CancelledError&) {
            post([](BackgroundJob& job) {
                job.running_ = false;
                Q_EMIT job.cancelled();
            });
        } catch (const std::exception& e) {
            const QString message = QString::fromStdString(describe_exception(e).message);
            post([message](BackgroundJob& job) {
                job.running_ = false;
                Q_EMIT job.failed(message);
            });
        }
    });
    return true;
}

QString describeEta(double seconds) {
    if (seconds < 0) return {};
    if (seconds < 60) return BackgroundJob::tr("about %1 s left").arg(qRound(seconds));
    if (seconds < 3600) return BackgroundJob::tr("about %1 min left").arg(qRound(seconds / 60));
    return BackgroundJob::tr("about %1 h %2 min left").arg(int(seconds / 3600)).arg(qRound(std::fmod(seconds, 3600) / 60));
}

}  // namespace scalebits::ui
