// Private: a small persistent thread pool for the CPU kernels. Spawning threads per GEMV would
// cost tens of microseconds, comparable to a whole small GEMV. Waking a blocked thread costs about
// as much (40 us measured on a 2-core VM), so threads spin briefly before they block: a decode
// step runs hundreds of GEMVs back to back.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace scalebits::kernels::cpu {

class ThreadPool {
public:
    explicit ThreadPool(int threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;
    int size() const { return static_cast<int>(workers_.size()) + 1; }
    // Runs fn(part) for part in 0..parts-1 on the workers and the calling thread; returns when all
    // are done. The first exception thrown by any part is rethrown here.
    void run(int parts, const std::function<void(int)>& fn);
    // The process-wide pool sized to the hardware (created on first use).
    static ThreadPool& shared();

private:
    void worker_loop();
    void work_on_current();
    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::mutex run_mutex_;  // one run() at a time
    std::condition_variable wake_, done_;
    const std::function<void(int)>* job_ = nullptr;
    int parts_ = 0, next_ = 0;
    // Written under mutex_; atomic so spinning threads can read them without it.
    std::atomic<int> remaining_{0};
    std::atomic<unsigned long> generation_{0};
    bool stop_ = false;
    std::exception_ptr error_;
};

}  // namespace scalebits::kernels::cpu
