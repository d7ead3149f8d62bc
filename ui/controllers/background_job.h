#pragma once
// One long piece of core work (analysis, export, evaluation) off the UI thread, with progress, a
// time estimate and a cancel that the core polls between units of work. Progress reaches the UI
// thread as queued signals, at most 10 a second; exactly one of finished/failed/cancelled follows.
#include <QElapsedTimer>
#include <QObject>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>

#include "core/util/cancel.h"

namespace scalebits::ui {

class BackgroundJob : public QObject {
    Q_OBJECT
public:
    using Work = std::function<void(const Progress&)>;

    explicit BackgroundJob(QObject* parent = nullptr);
    // Cancels a running job and waits for it: nothing runs after its owner is gone.
    ~BackgroundJob() override;

    bool running() const { return running_; }
    // Starts `work` on the thread pool; ignored (returns false) while another job runs.
    bool start(Work work);

public Q_SLOTS:
    void cancel();

Q_SIGNALS:
    // fraction of the current stage in [0, 1]; eta_seconds < 0 when not known yet.
    void progressed(double fraction, const QString& stage, double eta_seconds);
    void finished();
    void failed(const QString& message);
    void cancelled();

private:
    struct State;
    std::shared_ptr<State> state_;
    bool running_ = false;
};

// "about 3 min left" style text for an ETA in seconds ("" when unknown).
QString describeEta(double seconds);

}  // namespace scalebits::ui
