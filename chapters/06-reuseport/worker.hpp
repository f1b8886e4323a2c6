// worker: the other half of chapter 06's model, beside master.hpp. The listening sockets the master
// holds (open_listeners), and what each worker process does with its own (run_worker): chapter 05's
// epoll loop, and a way to be told to stop.
//
// Header-only, like master.hpp, so that every later chapter (07 on) runs its workers with this
// code instead of a copy of it: a chapter's binary links only its own .cpp files.
#pragma once

#include "chapters/05-epoll/poller.hpp"
#include "common/event_server.hpp"
#include "common/log.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <functional>
#include <string>
#include <unistd.h>
#include <vector>

namespace one {

// One listening socket per worker, all on the same port (SO_REUSEPORT), or one shared by all.
// SO_REUSEPORT would let us join a port another server of ours already holds, so the port is
// first claimed once without it: that fails, as it should, if anyone is there.
inline std::vector<Fd> open_listeners(const ServerOptions& options, int count) {
    int port;
    {
        Fd probe = listen_tcp(options.host, options.port, 1, false);
        port = local_port(probe.get());  // --port 0: the port the kernel chose
    }
    std::vector<Fd> listeners;
    for (int i = 0; i < count; ++i) listeners.push_back(listen_tcp(options.host, port, 4096, count > 1));
    return listeners;
}

inline int g_stop_waker = -1;  // the worker's loop wakes when this eventfd is written

inline void ask_to_stop(int) {
    uint64_t one = 1;
    ssize_t ignored = ::write(g_stop_waker, &one, sizeof one);  // async-signal-safe
    (void)ignored;
}

struct WorkerOptions {
    int count = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));  // --workers
    int grace_seconds = 10;        // a stop gives up on connections still open after this long
    bool shared_listener = false;  // one listening socket for all workers
    bool exclusive = false;        // ...watched with EPOLLEXCLUSIVE
};

// The listening sockets `workers` asks for: one per worker, or one they all share.
inline std::vector<Fd> open_listeners(const ServerOptions& options, const WorkerOptions& workers) {
    return open_listeners(options, workers.shared_listener ? 1 : workers.count);
}

// Adds --workers, --grace, --shared-listener and --exclusive to `cli`.
inline void add_worker_options(CLI::App& cli, WorkerOptions& o) {
    cli.add_option("--workers", o.count, "worker processes (default: one per core)")->capture_default_str()->check(CLI::Range(1, 1024));
    cli.add_option("--grace", o.grace_seconds, "seconds a stopping worker may take to finish before it gives up")
        ->capture_default_str()
        ->check(CLI::Range(0, 3600));
    auto* shared = cli.add_flag("--shared-listener", o.shared_listener, "one listening socket for all workers (the thundering herd)");
    cli.add_flag("--exclusive", o.exclusive, "with --shared-listener: EPOLLEXCLUSIVE, wake one worker per connection")->needs(shared);
}

// What every worker does with its loop, whatever the loop is (chapter 05's epoll loop here,
// chapter 10's ring): serve until SIGTERM asks it to stop, then stop accepting and let its
// connections finish, for up to --grace seconds. `Loop` has make_waker, stop_gracefully, run and
// counters, as EventServer does.
template <class Loop>
void work_until_stopped(int slot, Loop& loop, const WorkerOptions& workers) {
    std::signal(SIGINT, SIG_IGN);  // Ctrl-C reaches the whole process group; the master decides
    auto grace = std::chrono::seconds(workers.grace_seconds);
    g_stop_waker = loop.make_waker([&loop, grace] { loop.stop_gracefully(grace); });
    std::signal(SIGTERM, ask_to_stop);
    loop.run();
    const auto& c = loop.counters();
    log_line("worker " + std::to_string(slot) + " (pid " + std::to_string(getpid()) + ") done: accepted " +
             std::to_string(c.accepted) + ", empty wake-ups " + std::to_string(c.empty_wakeups));
}

// One worker: chapter 05's loop on this worker's listener, answering with `app`. `before_run`,
// if given, gets the loop before it starts (chapter 08 hands it a thread pool).
inline void run_worker(int slot, Fd listener, const App& app, const ServerOptions& options, const EventOptions& events,
                       const WorkerOptions& workers, const std::function<void(EventServer&)>& before_run = {}) {
    EpollPoller poller(false, workers.exclusive ? listener.get() : -1);
    EventServer server(std::move(listener), poller, app, options, events);
    if (before_run) before_run(server);
    work_until_stopped(slot, server, workers);
}

}  // namespace one
