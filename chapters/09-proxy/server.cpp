// Chapter 09: proxy. The front door: a server that answers nothing itself. Every request goes on to
// one of several backends (--upstream, or --route by path), over connections the proxy keeps
// open and reuses, and the backend's response comes back the same way. Each connection of the
// proxy is a server's connection on one side and a client's on the other (proxy.hpp).
//
// Built from what the course already has: 06's master and SO_REUSEPORT workers, the epoll loop,
// the parser, and 08's door, through which a loop hands a request away and gets its answer back
// later, in order. Only the far side of the door is new.
#include "chapters/06-reuseport/master.hpp"
#include "chapters/06-reuseport/worker.hpp"
#include "proxy.hpp"

#include <malloc.h>

#include <algorithm>
#include <map>

using namespace one;

int main(int argc, char** argv) {
    CLI::App cli{"09-proxy: a reverse proxy and load balancer in front of several backends"};
    ServerOptions options;
    EventOptions events;
    WorkerOptions workers;
    proxy::ProxyOptions proxying;
    add_server_options(cli, options, 8009);
    add_event_options(cli, events);
    add_worker_options(cli, workers);
    cli.add_option("--upstream", proxying.upstreams, "a backend, HOST:PORT (repeat for several)");
    cli.add_option("--route", proxying.routes, "paths starting with PREFIX go to this backend instead, PREFIX=HOST:PORT (repeatable)");
    // Read as a name and looked up after: CLI11's enum transformer would print the enum's values
    // in --help and its errors, and those are bytes of a uint8_t.
    const std::map<std::string, proxy::Balance> balances{{"round-robin", proxy::Balance::RoundRobin},
                                                         {"least-conn", proxy::Balance::LeastConnections}};
    std::string balance = "round-robin";
    cli.add_option("--balance", balance, "how the next backend is chosen")
        ->capture_default_str()
        ->transform(CLI::IsMember(balances, CLI::ignore_case));  // and spelled as the map spells it
    cli.add_option("--upstream-keepalive", proxying.keepalive, "idle connections kept open to each backend, per worker (0: none)")
        ->capture_default_str()
        ->check(CLI::Range(0, 100000));
    cli.add_option("--fail-timeout", proxying.fail_timeout_s, "seconds a failed backend is left out")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600));
    cli.add_option("--health-check", proxying.health_path, "GET this path from every backend every --health-interval ms")
        ->check([](const std::string& path) { return path.empty() || path[0] != '/' ? std::string("must start with /") : std::string(); });
    cli.add_option("--health-interval", proxying.health_interval_ms, "ms between two health checks")
        ->capture_default_str()
        ->check(CLI::Range(100, 3600 * 1000));
    cli.add_option("--connect-timeout", proxying.connect_timeout_ms, "ms for a backend to accept a connection, before the next is tried")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600 * 1000));
    cli.add_option("--upstream-timeout", proxying.upstream_timeout_ms, "ms a backend may stay silent while answering; then 504")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600 * 1000));
    cli.add_option("--buffer", proxying.buffer, "responses up to this many bytes are read whole at once; longer ones stream")
        ->capture_default_str()
        ->check(CLI::Range(size_t{0}, size_t{1} << 30));
    CLI11_PARSE(cli, argc, argv);
    proxying.balance = balances.at(balance);

    // Held responses are large, and come and go. By default glibc maps each long one afresh and
    // gives most of the memory back when it is freed, so the next one is faulted in again a page at a
    // time: 4,096 page faults for 16 MiB, a third of the proxy's CPU in the lab's slow-client part.
    // Kept in the heap, the memory of one held response serves the next; a worker's size stays at
    // its peak instead, which the lab's RSS column shows.
    if (proxying.buffer > 0) {
        mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest: longer allocations are mapped whatever we say
        mallopt(M_TRIM_THRESHOLD, 1 << 30);
    }

    return run_server([&] {
        std::vector<Fd> listeners = open_listeners(options, workers.shared_listener ? 1 : workers.count);
        proxy::Backends check(proxying.upstreams, proxying.routes);  // a bad backend is a setup error, before "listening"
        // Each client may need a second descriptor, for its request's connection to a backend:
        // by default take only as many clients as leaves one for each, and the pools their own.
        if (events.max_connections == 0)
            events.max_connections = static_cast<int>(std::max<long>(
                1, (raise_fd_limit() - 16 - static_cast<long>(proxying.keepalive * check.all().size())) / 2));
        announce_listening(listeners[0].get());
        std::string names;
        for (auto& b : check.all()) names += (names.empty() ? "" : ", ") + b->name;
        log_line(std::to_string(workers.count) + " workers, proxying to " + names + "; " +
                 std::to_string(proxying.keepalive) + " idle connections kept per backend in each");
        App app("09-proxy", "A reverse proxy: every request goes on to a backend.");  // answers nothing: see hand_off_to
        Master master(std::move(listeners), workers.count, workers.grace_seconds, [&](int slot, Fd listener) {
            proxy::Proxy door(proxying);  // here, after the fork: each worker has its own connections to the backends
            run_worker(slot, std::move(listener), app, options, events, workers, [&](EventServer& server) { door.serve(server); });
            log_line("worker " + std::to_string(slot) + " proxy: " + door.summary());
        });
        master.run();
    });
}
