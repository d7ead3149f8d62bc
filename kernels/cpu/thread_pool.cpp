#include "thread_pool.h"

#include <algorithm>
#include <chrono>
#include <exception>

namespace scalebits::kernels::cpu {

namespace {
// Set while a thread runs a part: a nested run() from inside a part executes inline instead of
// waiting for workers that are busy running the outer job (which would deadlock).
thread_local bool t_in_job = false;

// How long a thread spins for the next job (workers) or for the last part (the caller) before it
// blocks on a condition variable.
constexpr auto kSpin = std::chrono::microseconds(50);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Spins until pred() holds or kSpin has passed; returns pred().
template <class Pred>
bool spin_until(Pred pred) {
    const auto end = std::chrono::steady_clock::now() + kSpin;
    for (int i = 0;; ++i) {
        if (pred()) return true;
        cpu_relax();
        if ((i & 63) == 63 && std::chrono::steady_clock::now() >= end) return pred();
    }
}

struct JobScope {
    bool saved;
    JobScope() : saved(t_in_job) { t_in_job = true; }
    ~JobScope() { t_in_job = saved; }
};
}  // namespace

ThreadPool::ThreadPool(int threads) {
    for (int i = 1; i < std::max(1, threads); ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
        generation_.fetch_add(1, std::memory_order_release);  // ends the workers' spin
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
}

ThreadPool& ThreadPool::shared() {
    static ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    return pool;
}

// Takes parts until none are left; called by workers and by the thread inside run().
void ThreadPool::work_on_current() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (job_ && next_ < parts_) {
        const int part = next_++;
        const auto* job = job_;
        lock.unlock();
        try {
            JobScope scope;
            (*job)(part);
        } catch (...) {
            std::lock_guard<std::mutex> g(mutex_);
            if (!error_) error_ = std::current_exception();
        }
        lock.lock();
        if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.notify_all();
    }
}

void ThreadPool::worker_loop() {
    unsigned long seen = 0;
    for (;;) {
        spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
        }
        work_on_current();
    }
}

void ThreadPool::run(int parts, const std::function<void(int)>& fn) {
    if (parts <= 0) return;
    if (parts == 1 || workers_.empty() || t_in_job) {
        JobScope scope;
        for (int p = 0; p < parts; ++p) fn(p);
        return;
    }
    std::lock_guard<std::mutex> serial(run_mutex_);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        job_ = &fn;
        parts_ = parts;
        next_ = 0;
        remaining_ = parts;
        error_ = nullptr;
        generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    work_on_current();
    spin_until([&] { return remaining_.load(std::memory_order_acquire) == 0; });
    std::exception_ptr err;
    {
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, [&] { return remaining_ == 0; });
        job_ = nullptr;
        err = error_;
    }
    if (err) std::rethrow_exception(err);
}

}  // namespace scalebits::kernels::cpu
