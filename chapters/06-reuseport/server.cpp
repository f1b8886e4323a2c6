// Chapter 06: reuseport. One event loop uses one core. To use them all, run one loop per core, in
// separate processes: a master (master.cpp) and --workers worker processes, each running chapter
// 05's epoll loop unchanged. Who gets each new connection? With SO_REUSEPORT every worker has its
// own listening socket on the same port, and the kernel spreads connections across them by a hash
// of the client's address: no locks, no worker woken for nothing. With --shared-listener all
// workers watch one socket, and (level-triggered) every one of them wakes for each connection
// while only one wins the accept: the thundering herd. --exclusive (EPOLLEXCLUSIVE) wakes one.
#include "chapters/05-epoll/poller.hpp"
#include "common/event_server.hpp"
#include "master.hpp"

#include <csignal>
#include <unistd.h>

using namespace one;

static int g_stop_waker = -1;  // the worker's loop wakes when this eventfd is written

static void ask_to_stop(int) {
    uint64_t one = 1;
    ssize_t ignored = ::write(g_stop_waker, &one, sizeof one);  // async-signal-safe
    (void)ignored;
}

// One worker: chapter 05's loop on this worker's listener, until SIGTERM asks it to stop.
static void run_worker(int slot, Fd listener, const ServerOptions& options, const EventOptions& events, bool exclusive) {
    std::signal(SIGINT, SIG_IGN);  // Ctrl-C reaches the whole process group; the master decides
    App app("06-reuseport", "A master and one epoll worker process per core, each with its own SO_REUSEPORT listening socket.");
    EpollPoller poller(false, exclusive ? listener.get() : -1);
    EventServer server(std::move(listener), poller, app, options, events);
    g_stop_waker = server.make_waker([&server] { server.stop_gracefully(); });
    std::signal(SIGTERM, ask_to_stop);
    server.run();
    const auto& c = server.counters();
    log_line("worker " + std::to_string(slot) + " (pid " + std::to_string(getpid()) + ") done: accepted " +
             std::to_string(c.accepted) + ", empty wake-ups " + std::to_string(c.empty_wakeups));
}

// One listening socket per worker, all on the same port (SO_REUSEPORT), or one shared by all.
// SO_REUSEPORT would let us join a port another server of ours already holds, so the port is
// first claimed once without it: that fails, as it should, if anyone is there.
static std::vector<Fd> open_listeners(const ServerOptions& options, int count) {
    int port;
    {
        Fd probe = listen_tcp(options.host, options.port, 1, false);
        std::string address = local_address(probe.get());
        port = std::stoi(address.substr(address.rfind(':') + 1));  // --port 0: the port the kernel chose
    }
    std::vector<Fd> listeners;
    for (int i = 0; i < count; ++i) listeners.push_back(listen_tcp(options.host, port, 4096, count > 1));
    return listeners;
}

int main(int argc, char** argv) {
    CLI::App cli{"06-reuseport: a master and one epoll worker process per core"};
    ServerOptions options;
    EventOptions events;
    int workers = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
    int grace = 10;
    bool shared_listener = false, exclusive = false;
    add_server_options(cli, options, 8006);
    add_event_options(cli, events);
    cli.add_option("--workers", workers, "worker processes (default: one per core)")->capture_default_str()->check(CLI::Range(1, 1024));
    cli.add_option("--grace", grace, "seconds a stopping worker may take to finish before it is killed")
        ->capture_default_str()
        ->check(CLI::Range(0, 3600));
    auto* shared = cli.add_flag("--shared-listener", shared_listener, "one listening socket for all workers (the thundering herd)");
    cli.add_flag("--exclusive", exclusive, "with --shared-listener: EPOLLEXCLUSIVE, wake one worker per connection")->needs(shared);
    CLI11_PARSE(cli, argc, argv);

    return run_server([&] {
        std::vector<Fd> listeners = open_listeners(options, shared_listener ? 1 : workers);
        // The sockets listen already: clients that come before the workers wait in the accept queues.
        announce_listening(listeners[0].get());
        log_line(std::to_string(workers) + " workers, " + (shared_listener ? "one shared listening socket" : "a listening socket each"));
        Master master(std::move(listeners), workers, grace,
                      [&](int slot, Fd listener) { run_worker(slot, std::move(listener), options, events, exclusive); });
        master.run();
    });
}
