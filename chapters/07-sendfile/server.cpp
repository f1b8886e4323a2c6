// Chapter 07: sendfile. Chapter 06's master and SO_REUSEPORT workers, each running chapter 05's
// epoll loop, now also serve the files under --root. A file's bytes go from the page cache to the
// socket inside the kernel, with sendfile(2), and never through a buffer of ours
// (common/send_file.cpp); --copy sends the same bytes the long way, pread into a buffer and send,
// to measure what sendfile saves. A path is opened beneath the root with openat2 and
// RESOLVE_BENEATH (common/open_beneath.cpp), so no request, symlink or race can read outside it.
// What a file answer says (Last-Modified, 304, Range and 206) is in common/static_files.cpp.
#include "chapters/05-epoll/poller.hpp"
#include "chapters/06-reuseport/master.hpp"
#include "common/event_server.hpp"
#include "common/static_files.hpp"

#include <csignal>
#include <optional>
#include <unistd.h>

using namespace one;

static int g_stop_waker = -1;  // the worker's loop wakes when this eventfd is written

static void ask_to_stop(int) {
    uint64_t one = 1;
    ssize_t ignored = ::write(g_stop_waker, &one, sizeof one);  // async-signal-safe
    (void)ignored;
}

// One worker: chapter 05's loop on this worker's listener, until SIGTERM asks it to stop.
// `files`, when given, answers the paths that are not routes.
static void run_worker(int slot, Fd listener, const ServerOptions& options, const EventOptions& events, bool exclusive,
                       const StaticFiles* files) {
    std::signal(SIGINT, SIG_IGN);  // Ctrl-C reaches the whole process group; the master decides
    App app("07-sendfile", "Chapter 06's master and epoll workers, sending files from the page cache with sendfile.", files);
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
    CLI::App cli{"07-sendfile: 06's master and epoll workers, serving files with sendfile"};
    ServerOptions options;
    EventOptions events;
    int workers = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
    int grace = 10;
    bool shared_listener = false, exclusive = false, copy = false;
    std::string root;
    add_server_options(cli, options, 8007);
    add_event_options(cli, events);
    cli.add_option("--workers", workers, "worker processes (default: one per core)")->capture_default_str()->check(CLI::Range(1, 1024));
    cli.add_option("--grace", grace, "seconds a stopping worker may take to finish before it is killed")
        ->capture_default_str()
        ->check(CLI::Range(0, 3600));
    auto* shared = cli.add_flag("--shared-listener", shared_listener, "one listening socket for all workers (the thundering herd)");
    cli.add_flag("--exclusive", exclusive, "with --shared-listener: EPOLLEXCLUSIVE, wake one worker per connection")->needs(shared);
    auto* root_option = cli.add_option("--root", root, "serve the files under this directory (paths that are not routes)");
    cli.add_flag("--copy", copy, "send files through a user-space buffer (pread, then send) instead of sendfile")->needs(root_option);
    CLI11_PARSE(cli, argc, argv);
    events.file_sending = copy ? FileSending::Copy : FileSending::Sendfile;

    return run_server([&] {
        // Opened once, before anything listens: a missing root is a setup error (exit 1), and every
        // worker inherits the open directory, so a root renamed later cannot mean another directory.
        std::optional<StaticFiles> files;
        if (*root_option) files.emplace(root);
        std::vector<Fd> listeners = open_listeners(options, shared_listener ? 1 : workers);
        // The sockets listen already: clients that come before the workers wait in the accept queues.
        announce_listening(listeners[0].get());
        log_line(std::to_string(workers) + " workers, " + (shared_listener ? "one shared listening socket" : "a listening socket each"));
        if (files)
            log_line("files under " + root + ": opened with " + describe(files->root().method()) + "; sent with " +
                     (copy ? "pread and send (--copy)" : "sendfile"));
        const StaticFiles* serving = files ? &*files : nullptr;
        Master master(std::move(listeners), workers, grace,
                      [&](int slot, Fd listener) { run_worker(slot, std::move(listener), options, events, exclusive, serving); });
        master.run();
    });
}
