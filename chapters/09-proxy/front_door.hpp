// front_door: chapter 09's proxy as a whole server, its options and its start-up, so that
// chapter 11 can be the same front door with TLS before every client, and nothing copied.
#pragma once

#include "chapters/06-reuseport/master.hpp"
#include "chapters/06-reuseport/worker.hpp"
#include "proxy.hpp"

#include <malloc.h>

#include <algorithm>
#include <functional>
#include <map>
#include <string>

namespace one::proxy {

struct FrontDoorOptions {
    ServerOptions server;
    EventOptions events;
    WorkerOptions workers;
    ProxyOptions proxying;
    std::string balance = "round-robin";
};

inline const std::map<std::string, Balance>& balances() {
    static const std::map<std::string, Balance> names{{"round-robin", Balance::RoundRobin}, {"least-conn", Balance::LeastConnections}};
    return names;
}

// Every option of the front door: the server's, the loop's, the workers', and the proxy's own.
inline void add_front_door_options(CLI::App& cli, FrontDoorOptions& o, int default_port) {
    add_server_options(cli, o.server, default_port);
    add_event_options(cli, o.events);
    add_worker_options(cli, o.workers);
    cli.add_option("--upstream", o.proxying.upstreams, "a backend, HOST:PORT (repeat for several)");
    cli.add_option("--route", o.proxying.routes, "paths starting with PREFIX go to this backend instead, PREFIX=HOST:PORT (repeatable)");
    // Read as a name and looked up after: CLI11's enum transformer would print the enum's values
    // in --help and its errors, and those are bytes of a uint8_t.
    cli.add_option("--balance", o.balance, "how the next backend is chosen")
        ->capture_default_str()
        ->transform(CLI::IsMember(balances(), CLI::ignore_case));  // and spelled as the map spells it
    cli.add_option("--upstream-keepalive", o.proxying.keepalive, "idle connections kept open to each backend, per worker (0: none)")
        ->capture_default_str()
        ->check(CLI::Range(0, 100000));
    cli.add_option("--fail-timeout", o.proxying.fail_timeout_s, "seconds a failed backend is left out")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600));
    cli.add_option("--health-check", o.proxying.health_path, "GET this path from every backend every --health-interval ms")
        ->check([](const std::string& path) { return path.empty() || path[0] != '/' ? std::string("must start with /") : std::string(); });
    cli.add_option("--health-interval", o.proxying.health_interval_ms, "ms between two health checks")
        ->capture_default_str()
        ->check(CLI::Range(100, 3600 * 1000));
    cli.add_option("--connect-timeout", o.proxying.connect_timeout_ms, "ms for a backend to accept a connection, before the next is tried")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600 * 1000));
    cli.add_option("--upstream-timeout", o.proxying.upstream_timeout_ms, "ms a backend may stay silent while answering; then 504")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600 * 1000));
    cli.add_option("--buffer", o.proxying.buffer, "responses up to this many bytes are read whole at once; longer ones stream")
        ->capture_default_str()
        ->check(CLI::Range(size_t{0}, size_t{1} << 30));
}

// Opens the listeners, checks the backends, forks the workers and runs until stopped.
// `with_master` may add to the master before it starts (chapter 11: a reload hook); `each_loop`
// runs in each worker before its loop starts (chapter 11: TLS on every connection).
inline void serve_front_door(FrontDoorOptions& o, const std::string& name, const std::string& model,
                             const std::function<void(Master&)>& with_master = {},
                             const std::function<void(int slot, EventServer&)>& each_loop = {}) {
    o.proxying.balance = balances().at(o.balance);
    // Held responses are large, and come and go. By default glibc maps each long one afresh and
    // gives most of the memory back when it is freed, so the next one is faulted in again a page at a
    // time: 4,096 page faults for 16 MiB, a third of the proxy's CPU in the lab's slow-client part.
    // Kept in the heap, the memory of one held response serves the next; a worker's size stays at
    // its peak instead, which the lab's RSS column shows.
    if (o.proxying.buffer > 0) {
        mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest: longer allocations are mapped whatever we say
        mallopt(M_TRIM_THRESHOLD, 1 << 30);
    }

    std::vector<Fd> listeners = open_listeners(o.server, o.workers);
    Backends check(o.proxying.upstreams, o.proxying.routes);  // a bad backend is a setup error, before "listening"
    // Each client may need a second descriptor, for its request's connection to a backend:
    // by default take only as many clients as leaves one for each, and the pools their own.
    if (o.events.max_connections == 0)
        o.events.max_connections = static_cast<int>(std::max<long>(
            1, (raise_fd_limit() - 16 - static_cast<long>(o.proxying.keepalive * check.all().size())) / 2));
    announce_listening(listeners[0].get());
    std::string names;
    for (auto& b : check.all()) names += (names.empty() ? "" : ", ") + b->name;
    log_line(std::to_string(o.workers.count) + " workers, proxying to " + names + "; " +
             std::to_string(o.proxying.keepalive) + " idle connections kept per backend in each");
    App app(name, model);  // answers nothing: see hand_off_to
    Master master(std::move(listeners), o.workers.count, o.workers.grace_seconds, [&](int slot, Fd listener) {
        Proxy door(o.proxying);  // here, after the fork: each worker has its own connections to the backends
        run_worker(slot, std::move(listener), app, o.server, o.events, o.workers, [&](EventServer& server) {
            if (each_loop) each_loop(slot, server);
            door.serve(server);
        });
        log_line("worker " + std::to_string(slot) + " proxy: " + door.summary());
    });
    if (with_master) with_master(master);
    master.run();
}

}  // namespace one::proxy
