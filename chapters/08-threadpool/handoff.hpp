// handoff: what chapter 08's loop gives its thread pool, and how each answer finds its way back.
//
// Two kinds of job, both things that would make the loop wait:
//   answer  a request the loop must not answer itself: /sleep, /cpu, and a file whose path is
//           not in the kernel's lookup cache (opening it may read directories from the disk)
//   warm    the next stretch of a file being sent that is not in the page cache: the thread
//           reads it in, and the loop's sendfile() then finds it there
//
// A job holds an identity (fd, generation), never the Connection, and a copy of every byte it
// needs; its answer is a value. Back on the loop, EventServer::job_done() looks the identity up:
// the connection may have closed meanwhile, and its descriptor may be a new client's, whose
// generation differs. Then the answer is dropped, never sent to a stranger.
#pragma once

#include "common/app.hpp"
#include "common/event_server.hpp"
#include "common/log.hpp"
#include "common/narrate.hpp"
#include "common/status.hpp"
#include "thread_pool.hpp"

#include <fcntl.h>
#include <memory>
#include <unistd.h>

namespace one {

// A request that owns its bytes, to take to another thread. The loop reuses its read buffer as
// soon as it returns, so the request's views are pointed into a copy of the request's bytes.
// Both live on the heap, so a job moves through the queues without copying either.
class OwnedRequest {
public:
    OwnedRequest() = default;
    // `raw` holds every byte `request`'s views point into (the request as it arrived).
    OwnedRequest(const http::Request& request, std::span<const char> raw)
        : bytes_(std::make_unique<char[]>(raw.size())), request_(std::make_unique<http::Request>(request)) {
        std::copy(raw.begin(), raw.end(), bytes_.get());
        // Each view moves to the same place in the copy as it had in `raw`.
        auto move = [&](std::string_view& v) {
            v = v.empty() ? std::string_view() : std::string_view(bytes_.get() + (v.data() - raw.data()), v.size());
        };
        http::Request& r = *request_;
        for (std::string_view* v : {&r.method, &r.target, &r.path, &r.query, &r.host, &r.body}) move(*v);
        for (size_t i = 0; i < r.header_count; ++i) {
            move(r.header_storage[i].name);
            move(r.header_storage[i].value);
        }
    }
    const http::Request& request() const { return *request_; }

private:
    std::unique_ptr<char[]> bytes_;
    std::unique_ptr<http::Request> request_;  // 3 KiB with room for 100 headers: not moved, pointed to
};

struct Job {
    int fd = -1;                  // whose job it is: the connection's descriptor...
    uint32_t generation = 0;      // ...and generation, checked when the answer comes back
    OwnedRequest request;         // an answer job: the request to answer
    Fd file;                      // a warm job: our own descriptor of the file (the connection's may close),
    off_t offset = 0;             //   and the stretch to read into the page cache
    size_t length = 0;
};

struct Finished {
    int fd;
    uint32_t generation;
    std::optional<http::Response> answer;  // empty for a warm job
};

// The door of common/offload.hpp, opening onto a ThreadPool. One per worker process, made after
// the fork: a fork copies only the thread that called it, so threads started before would be lost.
class Handoff final : public Offload {
public:
    Handoff(const App& app, int threads, size_t max_waiting)
        : pool_(threads, max_waiting, [&app](Job& job) { return run(app, job); }) {}

    // Watches the pool's eventfd from `server`'s loop, and has the loop hand off through this door.
    void serve(EventServer& server) {
        server.watch_waker(pool_.wake_fd(), [this, &server] { deliver(server); });
        server.hand_off_to(*this);
    }

    std::optional<http::Response> answer_later(int fd, uint32_t generation, const http::Request& request,
                                               std::span<const char> raw) override {
        Job job{fd, generation, OwnedRequest(request, raw), {}, 0, 0};
        if (submitted(job)) return std::nullopt;
        if (narrate::on) narrate::line("fd " + std::to_string(fd) + ": the pool's queue is full: 503 at once");
        status::count_refusal(status::Refusal::NoRoomQueue);
        http::Response busy;
        busy.status = 503;
        busy.body = "503 Service Unavailable: every thread is busy and the queue is full\n";
        busy.extra_headers = "Retry-After: 1\r\n";
        busy.head_only = request.method == "HEAD";
        busy.keep_alive = request.keep_alive;
        return busy;
    }

    bool warm_later(int fd, uint32_t generation, const http::FileBody& file, size_t length) override {
        // No readahead on this file from now on. The kernel's readahead reads past what was asked,
        // in the background, and cachestat counts a page as cached as soon as its read has begun:
        // the loop would find the next stretch "cached" and wait in sendfile for the disk after
        // all. Without readahead, the only reads are the pool's, each finished before its answer.
        ::posix_fadvise(file.fd.get(), 0, 0, POSIX_FADV_RANDOM);  // the open file, shared with the dup below
        Job job{fd, generation, {}, Fd(::dup(file.fd.get())), file.offset, length};
        bool taken = job.file && submitted(job);
        if (narrate::on)
            narrate::line("fd " + std::to_string(fd) + ": its file's next " + std::to_string(length) + " bytes are not in the page cache: " +
                          (taken ? "handed to the pool to read" : "the pool cannot take it, so the loop sends them and may wait for the disk"));
        return taken;
    }

    const char* narrated_as() const override { return "handed to the thread pool"; }

    // After the loop has ended: drops waiting jobs; true once no thread is in a job (see ThreadPool::stop).
    bool stop(std::chrono::steady_clock::time_point deadline) { return pool_.stop(deadline); }
    size_t busy() const { return pool_.busy(); }

    std::string summary() const {
        auto c = pool_.counters();
        return std::to_string(c.submitted) + " jobs, " + std::to_string(c.refused) + " refused (queue full), " +
               std::to_string(dropped_) + " answers dropped (client gone), " + std::to_string(c.wakeups) +
               " wake-ups of the loop for " + std::to_string(c.finished) + " results";
    }

private:
    // On a pool thread: the job's answer, or its stretch of file in the page cache.
    static Finished run(const App& app, Job& job) {
        if (!job.file) {
            if (narrate::on) narrate::line("runs fd " + std::to_string(job.fd) + "'s " + std::string(job.request.request().target));
            http::Response answer = app.handle(job.request.request());
            if (narrate::on) narrate::line("fd " + std::to_string(job.fd) + "'s answer is made: " + std::to_string(answer.status));
            return {job.fd, job.generation, std::move(answer)};
        }
        if (narrate::on) narrate::line("reads " + std::to_string(job.length) + " bytes of fd " + std::to_string(job.fd) + "'s file, so they are in the page cache");
        thread_local std::vector<char> scratch(kCacheStretch);  // read into, then forgotten: only the page cache matters
        for (size_t done = 0; done < job.length;) {
            size_t want = std::min(scratch.size(), job.length - done);
            ssize_t n = retry_eintr([&] { return ::pread(job.file.get(), scratch.data(), want, job.offset + static_cast<off_t>(done)); });
            if (n <= 0) break;  // the file shrank, or EIO: the loop's sendfile finds out, and closes
            done += static_cast<size_t>(n);
        }
        return {job.fd, job.generation, std::nullopt};
    }

    bool submitted(Job& job) {
        if (pool_.submit(job)) {
            queue_full_.success();
            return true;
        }
        queue_full_.failure(std::to_string(pool_.waiting()) + " jobs waiting");
        return false;
    }

    // On the loop, woken by the pool's eventfd: every finished job back to its connection.
    void deliver(EventServer& server) {
        std::vector<Finished> done = pool_.take_done();
        if (narrate::on) narrate::line("takes " + std::to_string(done.size()) + " result(s) from the pool");
        for (Finished& f : done)
            if (!server.job_done(f.fd, f.generation, std::move(f.answer))) ++dropped_;
    }

    ThreadPool<Job, Finished> pool_;
    size_t dropped_ = 0;  // answers whose connection had closed
    BurstLog queue_full_{"thread pool queue full: answering 503 with Retry-After"};
};

}  // namespace one
