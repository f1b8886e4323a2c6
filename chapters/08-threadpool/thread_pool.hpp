// thread_pool: a fixed set of threads that run what the event loop hands them, and the road back.
//
//      loop thread                                        pool threads (--threads)
//      -----------                                        ------------------------
//      submit(work) ---> [ waiting work | mutex ] ------> run(work)
//                          (at most --queue)                  |
//      on wake_fd: take_done() <--- [ done | mutex ] <--------+  finish(): the first result after
//                                                                 a take writes the eventfd
//
// The loop never waits for a thread: submit() takes a lock for as long as a push takes and never
// blocks on a full queue (it says no, and the caller answers 503). A thread never touches what the
// loop owns: a job carries copies of what it needs, and its result is a value that waits in the
// done list until the loop takes it. Results are merged into wake-ups: only the first result
// after the loop's last take writes the eventfd, so a hundred results finishing together cost the
// loop one wake-up, one read() and one lock. libuv's thread pool and uv_async_send work this way.
//
// Header-only, so that the chapter's tests can drive it directly.
#pragma once

#include "common/narrate.hpp"
#include "common/status.hpp"
#include "common/sys.hpp"

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <pthread.h>
#include <sys/eventfd.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace one {

template <typename Work, typename Done>
class ThreadPool {
public:
    struct Counters {
        uint64_t submitted = 0;  // work taken
        uint64_t refused = 0;    // submit() said no: the queue was full
        uint64_t finished = 0;   // results handed back
        uint64_t wakeups = 0;    // eventfd writes: one per batch of results, not one per result
    };

    // Starts `threads` threads. `run` turns a piece of work into its result, on a pool thread.
    ThreadPool(int threads, size_t max_waiting, std::function<Done(Work&)> run)
        : size_(static_cast<size_t>(threads)), max_waiting_(max_waiting), run_(std::move(run)), wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
        if (!wake_) throw_errno("eventfd");
        // Signals are the loop's business (SIGTERM writes its eventfd): block them all in the pool's
        // threads, which inherit the mask of the thread that creates them.
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { serve(); });
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        status::set_model(status::ModelNumber::ThreadsAlive, threads + 1);  // and the loop's
        status::set_model(status::ModelNumber::PoolQueued, 0);
        status::set_model(status::ModelNumber::PoolBusy, 0);
    }

    ~ThreadPool() {
        stop(std::chrono::steady_clock::time_point::max());
        for (std::thread& t : threads_) t.join();
    }

    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    // Loop thread. Queues `work` for a thread, unless more than --queue pieces would then be
    // waiting with no thread free to take them: then false, and `work` is left as it was.
    bool submit(Work& work) {
        {
            std::lock_guard lock(mutex_);
            // Counted as free: a thread not in a job, even one not yet started or not yet woken.
            if (stopping_ || waiting_.size() + busy_ >= size_ + max_waiting_) {
                ++counters_.refused;
                return false;
            }
            waiting_.push_back(std::move(work));
            ++counters_.submitted;
            publish();
        }
        work_ready_.notify_one();
        return true;
    }

    // The eventfd that is written when results are waiting. The loop watches it, reads it, then
    // calls take_done(): in that order, so a result that comes in between is never stranded.
    int wake_fd() const { return wake_.get(); }

    // Loop thread: every result finished since the last call, oldest first.
    std::vector<Done> take_done() {
        std::vector<Done> taken;
        std::lock_guard lock(mutex_);
        taken.swap(done_);
        return taken;
    }

    // Drops the work still waiting and tells the threads to end once their current job is done.
    // Returns true if every thread was idle by `deadline`; false if some are still in a job (a
    // sleep cannot be interrupted): then the process must not destroy the pool, but exit.
    bool stop(std::chrono::steady_clock::time_point deadline) {
        std::unique_lock lock(mutex_);
        stopping_ = true;
        waiting_.clear();
        publish();
        work_ready_.notify_all();
        return all_idle_.wait_until(lock, deadline, [this] { return busy_ == 0; });
    }

    size_t busy() const { std::lock_guard lock(mutex_); return busy_; }
    size_t waiting() const { std::lock_guard lock(mutex_); return waiting_.size(); }
    Counters counters() const { std::lock_guard lock(mutex_); return counters_; }

private:
    void serve() {
        if (narrate::on) narrate::set_speaker("pool thread " + std::to_string(gettid()));
        std::unique_lock lock(mutex_);
        for (;;) {
            work_ready_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
            if (stopping_) return;
            Work work = std::move(waiting_.front());
            waiting_.pop_front();
            ++busy_;
            publish();
            lock.unlock();
            Done done = run_(work);  // the only part that runs without the lock
            lock.lock();
            --busy_;
            publish();
            finish(std::move(done), lock);
            if (busy_ == 0) all_idle_.notify_all();
        }
    }

    // With the lock held: the queue and the busy threads, for /status.
    void publish() const {
        status::set_model(status::ModelNumber::PoolQueued, static_cast<int64_t>(waiting_.size()));
        status::set_model(status::ModelNumber::PoolBusy, static_cast<int64_t>(busy_));
    }

    // With the lock held: adds a result, and wakes the loop if it is the first since its last take.
    void finish(Done done, std::unique_lock<std::mutex>& lock) {
        bool first = done_.empty();
        done_.push_back(std::move(done));
        ++counters_.finished;
        if (!first) return;
        ++counters_.wakeups;
        lock.unlock();  // the write is a system call: nobody needs to wait for it
        if (narrate::on) narrate::line("the first result since the loop last looked: writes the eventfd to wake it");
        uint64_t one = 1;
        ssize_t ignored = ::write(wake_.get(), &one, sizeof one);
        (void)ignored;  // cannot fail short of a counter at 2^64 - 1
        lock.lock();
    }

    const size_t size_;          // threads
    const size_t max_waiting_;   // --queue
    const std::function<Done(Work&)> run_;
    Fd wake_;
    mutable std::mutex mutex_;       // guards everything below
    std::condition_variable work_ready_;
    std::condition_variable all_idle_;
    std::deque<Work> waiting_;       // submitted, not yet taken by a thread
    std::vector<Done> done_;         // finished, not yet taken by the loop
    size_t busy_ = 0;                // threads running a job
    bool stopping_ = false;
    Counters counters_;
    std::vector<std::thread> threads_;  // last: started once everything above exists
};

}  // namespace one
