// Chapter 06: reuseport. One event loop uses one core. To use them all, run one loop per core, in
// separate processes: a master (master.hpp) and --workers worker processes, each running chapter
// 05's epoll loop unchanged (worker.hpp). Who gets each new connection? With SO_REUSEPORT every
// worker has its own listening socket on the same port, and the kernel spreads connections across
// them by a hash of the client's address: no locks, no worker woken for nothing. With
// --shared-listener all workers watch one socket, and (level-triggered) every one of them wakes for
// each connection while only one wins the accept: the thundering herd. --exclusive
// (EPOLLEXCLUSIVE) wakes one.
#include "master.hpp"
#include "worker.hpp"

using namespace one;

int main(int argc, char** argv) {
    CLI::App cli{"06-reuseport: a master and one epoll worker process per core"};
    ServerOptions options;
    EventOptions events;
    WorkerOptions workers;
    add_server_options(cli, options, 8006);
    add_event_options(cli, events);
    add_worker_options(cli, workers);
    CLI11_PARSE(cli, argc, argv);

    return run_server([&] {
        std::vector<Fd> listeners = open_listeners(options, workers);
        // The sockets listen already: clients that come before the workers wait in the accept queues.
        announce_listening(listeners[0].get());
        log_line(std::to_string(workers.count) + " workers, " +
                 (workers.shared_listener ? "one shared listening socket" : "a listening socket each"));
        App app("06-reuseport", "A master and one epoll worker process per core, each with its own SO_REUSEPORT listening socket.");
        Master master(std::move(listeners), workers.count, workers.grace_seconds,
                      [&](int slot, Fd listener) { run_worker(slot, std::move(listener), app, options, events, workers); });
        master.run();
    });
}
