#pragma once
// Cancellation and progress for long work: the caller owns the token, core polls it between units
// of work through one helper (checkpoint) instead of ad-hoc flag checks in every loop.
#include <atomic>
#include <functional>
#include <string>

#include "core/util/error.h"

namespace scalebits {

class CancelToken {
public:
    void cancel() { flag_.store(true, std::memory_order_relaxed); }
    bool cancelled() const { return flag_.load(std::memory_order_relaxed); }

private:
    std::atomic<bool> flag_{false};
};

// done/total units of the current stage, and a short label for it.
using ProgressFn = std::function<void(double done, double total, const std::string& stage)>;

struct Progress {
    const CancelToken* token = nullptr;
    ProgressFn report;

    // Throws CancelledError when cancellation was requested, else reports progress.
    void checkpoint(double done, double total, const std::string& stage) const {
        if (token && token->cancelled()) throw CancelledError();
        if (report) report(done, total, stage);
    }
    void check() const {
        if (token && token->cancelled()) throw CancelledError();
    }
};

}  // namespace scalebits
