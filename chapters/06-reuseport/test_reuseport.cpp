// Chapter 06's own tests: the master's promises about its workers.
#include "common/blackbox/harness.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <sys/wait.h>
#include <thread>

using namespace one::test;
using namespace std::chrono_literals;

// Waits until the server has `n` workers; returns them.
static std::vector<pid_t> await_workers(const ServerProcess& server, size_t n) {
    std::vector<pid_t> workers;
    for (int i = 0; i < 300 && (workers = server.children()).size() != n; ++i) std::this_thread::sleep_for(10ms);
    return workers;
}

TEST_SUITE("06-reuseport") {

TEST_CASE("--workers N starts N worker processes that all serve") {
    ServerProcess server({{"--workers", "3"}});
    CHECK(await_workers(server, 3).size() == 3);
    for (int i = 0; i < 30; ++i) CHECK(exchange(server.port(), get("/hello")).body == "Hello, World!");
}

TEST_CASE("one shared listening socket, with or without EPOLLEXCLUSIVE, serves every client") {
    for (std::vector<std::string> flags : {std::vector<std::string>{"--shared-listener"}, {"--shared-listener", "--exclusive"}}) {
        CAPTURE(flags.back());
        flags.insert(flags.begin(), {"--workers", "2"});
        ServerProcess server({flags});
        for (int i = 0; i < 30; ++i) CHECK(exchange(server.port(), get("/hello")).body == "Hello, World!");
        CHECK(server.log().find("one shared listening socket") != std::string::npos);
    }
}

TEST_CASE("a worker that dies is restarted and the port keeps answering") {
    ServerProcess server({{"--workers", "2"}});
    std::vector<pid_t> before = await_workers(server, 2);
    REQUIRE(before.size() == 2);
    kill(before[0], SIGKILL);
    std::vector<pid_t> after;
    for (int i = 0; i < 300; ++i) {
        after = server.children();
        if (after.size() == 2 && std::find(after.begin(), after.end(), before[0]) == after.end()) break;
        std::this_thread::sleep_for(10ms);
    }
    CHECK(after.size() == 2);
    CHECK(std::find(after.begin(), after.end(), before[0]) == after.end());
    for (int i = 0; i < 20; ++i) CHECK(exchange(server.port(), get("/hello")).status == 200);
    std::string log = server.log();
    CHECK(log.find("killed by signal Killed") != std::string::npos);
    CHECK(log.find("restarting worker") != std::string::npos);
}

TEST_CASE("SIGTERM lets a request in flight finish before the server exits") {
    ServerProcess server({{"--workers", "2", "--grace", "10"}});
    REQUIRE(await_workers(server, 2).size() == 2);
    Client slow(server.port());
    REQUIRE(slow.send(get("/sleep?ms=700")));
    std::this_thread::sleep_for(200ms);  // the request is being served now
    kill(server.pid(), SIGTERM);
    Reply reply = slow.read_reply();
    CHECK(reply.status == 200);
    CHECK(slow.closed_by_server());  // then, quiet, the connection is closed and the worker can go
    int status = server.wait_exit(5000);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("SIGHUP replaces every worker without failing a request") {
    ServerProcess server({{"--workers", "2"}});
    std::vector<pid_t> old = await_workers(server, 2);
    REQUIRE(old.size() == 2);
    std::atomic<bool> done{false};
    std::atomic<int> ok{0}, failed{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t)
        clients.emplace_back([&] {
            // Keep-alive clients that reconnect when told Connection: close, as browsers and loadgen do.
            while (!done) {
                Client c(server.port(), 3000);
                for (bool open = true; open && !done;) {
                    Reply r = c.send(get("/hello")) ? c.read_reply() : Reply{};
                    (r.status == 200 ? ok : failed)++;
                    open = r.status == 200 && r.header("Connection") != "close";
                }
            }
        });
    std::this_thread::sleep_for(300ms);
    kill(server.pid(), SIGHUP);
    std::vector<pid_t> now;
    for (int i = 0; i < 500; ++i) {  // the old workers retire once their connections are done
        now = server.children();
        bool replaced = now.size() == 2 && std::find(now.begin(), now.end(), old[0]) == now.end() &&
                        std::find(now.begin(), now.end(), old[1]) == now.end();
        if (replaced) break;
        std::this_thread::sleep_for(10ms);
    }
    std::this_thread::sleep_for(300ms);
    done = true;
    for (auto& t : clients) t.join();
    CHECK(now.size() == 2);
    CHECK(std::find(now.begin(), now.end(), old[0]) == now.end());
    CAPTURE(ok.load());
    CHECK(ok > 100);
    CHECK(failed == 0);
}

}  // TEST_SUITE
