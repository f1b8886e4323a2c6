// Chapter 10: io_uring. Chapter 06's master and SO_REUSEPORT workers, each now running a loop of
// completions on its own ring (ring_server.hpp) instead of chapter 05's epoll loop. The request
// cycle, the files under --root and the worker model are the earlier chapters' own code.
//
// Without io_uring (an old kernel, kernel.io_uring_disabled, a container's seccomp profile) it
// says why in one line and exits with status 3; --probe says only that, for scripts.
#include "chapters/06-reuseport/master.hpp"
#include "chapters/06-reuseport/worker.hpp"
#include "common/static_files.hpp"
#include "ring_server.hpp"

#include <cstdio>
#include <optional>

using namespace one;
using namespace one::uring;

constexpr int kNoRing = 3;  // the exit status that means "io_uring is not available here"

int main(int argc, char** argv) {
    CLI::App cli{"10-io-uring: 06's master and workers, each with one io_uring instead of epoll"};
    ServerOptions options;
    EventOptions events;
    WorkerOptions workers;
    RingOptions rings;
    std::string root;
    bool probe = false;
    add_server_options(cli, options, 8010);
    add_event_options(cli, events);
    add_worker_options(cli, workers);
    add_ring_options(cli, rings);
    cli.add_option("--root", root, "serve the files under this directory (paths that are not routes)");
    cli.add_flag("--probe", probe, "say whether io_uring is available here and what it offers, then exit (3: not available)");
    CLI11_PARSE(cli, argc, argv);
    if (workers.exclusive) {
        std::fprintf(stderr, "10-io-uring: --exclusive is an epoll flag (EPOLLEXCLUSIVE); a ring's accept has no use for it\n");
        return 2;
    }

    if (std::string why = why_unavailable(); !why.empty()) {
        std::printf("io_uring unavailable: %s\n", why.c_str());
        return kNoRing;
    }
    if (probe) {
        Ring ring(8);
        std::printf("io_uring available: %s\n", ring.features().describe().c_str());
        return 0;
    }

    return run_server([&] {
        std::optional<StaticFiles> files;
        if (!root.empty()) files.emplace(root);
        std::vector<Fd> listeners = open_listeners(options, workers);
        announce_listening(listeners[0].get());
        {
            Ring ring(8);
            log_line(std::to_string(workers.count) + " workers, one ring each; the kernel gave " + ring.features().describe());
        }
        App app("10-io-uring", "Chapter 06's master and workers, each with one io_uring: requests and completions in shared rings.",
                files ? &*files : nullptr);
        Master master(std::move(listeners), workers.count, workers.grace_seconds, [&](int slot, Fd listener) {
            Ring ring(rings.entries);  // here, after the fork: a ring belongs to one process, one thread
            RingServer server(std::move(listener), ring, app, options, events, rings);
            work_until_stopped(slot, server, workers);
        });
        master.run();
    });
}
