#include "app/common/interrupt.h"

#include <csignal>
#include <mutex>

namespace scalebits::cli {

namespace {

CancelToken g_token;
// Lock-free, so the handler's load and store are async-signal-safe.
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_sigint(int) {
    if (g_token.cancelled()) {
        // Second Ctrl+C: the default action (terminate) from here on, then deliver this one.
        std::signal(SIGINT, SIG_DFL);
        std::raise(SIGINT);
        return;
    }
    g_token.cancel();
}

}  // namespace

const CancelToken& interrupt_token() {
    static std::once_flag installed;
    std::call_once(installed, [] {
        struct sigaction sa {};
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;  // blocking reads and writes carry on; the work stops at its checkpoint
        sigaction(SIGINT, &sa, nullptr);
    });
    return g_token;
}

}  // namespace scalebits::cli
