// Chapter 06's own tests: the master's promises about its workers.
#include "common/blackbox/harness.hpp"
#include "common/blackbox/json.hpp"

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
    for (int i = 0; i < 10; ++i) CHECK(exchange(server.port(), get("/hello")).status == 200);
    auto status_page = [&] {
        std::optional<Json> page = parse_json(one::test::exchange(server.port(), get("/status?format=json")).body);
        REQUIRE(page);
        return *page;
    };
    int64_t requests_before = *status_page().number_at({"total", "requests"});
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
    // /status kept what the dead worker had counted, and shows its successor with one restart.
    Json page = status_page();
    CHECK(page.number_at({"total", "requests"}) == requests_before + 20 + 1);
    REQUIRE(page.get("workers"));
    int restarted = 0;
    for (const Json& worker : page.get("workers")->items) {
        auto pid = static_cast<pid_t>(*worker.number_at({"pid"}));
        CHECK(std::find(after.begin(), after.end(), pid) != after.end());
        restarted += worker.number_at({"restarts"}) == 1;
    }
    CHECK(page.get("workers")->items.size() == 2);
    CHECK(restarted == 1);
    std::string log = server.log();
    CHECK(log.find("killed by signal Killed") != std::string::npos);
    CHECK(log.find("restarting") != std::string::npos);
}

TEST_CASE("SIGTERM lets a request in flight finish before the server exits") {
    ServerProcess server({{"--workers", "2", "--grace", "10"}});
    REQUIRE(await_workers(server, 2).size() == 2);
    Client slow(server.port());
    REQUIRE(slow.send(get("/sleep?ms=700")));
    std::this_thread::sleep_for(200ms);  // the request is being served now
    kill(server.pid(), SIGTERM);
    std::this_thread::sleep_for(200ms);
    // A client that comes now is refused, or, if a listener was still open (the busy worker sees
    // the stop only after its request), served once: never queued for nobody and then reset.
    Client late(server.port());
    if (late.connected()) {
        REQUIRE(late.send(get("/hello")));
        Reply r = late.read_reply();
        CHECK(r.status == 200);
        CHECK(r.header("Connection") == "close");
    }
    Reply reply = slow.read_reply();
    CHECK(reply.status == 200);
    CHECK(slow.closed_by_server());  // then, quiet, the connection is closed and the worker can go
    int status = server.wait_exit(5000);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a stop is not held up by a client that never reads") {
    // The quiet keep-alive connection gets the stop's short idle timeout even though a connection
    // armed earlier, with the long one, waits to write: the workers end before --grace runs out.
    ServerProcess server({{"--workers", "1", "--grace", "4"}});
    REQUIRE(await_workers(server, 1).size() == 1);
    Client greedy(server.port());
    std::string batch;
    for (int i = 0; i < 400; ++i) batch += request("POST", "/echo", "", std::string(64 * 1024, 'x'));  // 25 MiB: more than the sockets' buffers take
    std::thread sender([&] { greedy.send(batch); });  // never reads: the server ends up waiting to write
    std::this_thread::sleep_for(500ms);  // greedy is stuck now, its deadline set before quiet's
    Client quiet(server.port());
    REQUIRE(quiet.send(get("/hello")));
    REQUIRE(quiet.read_reply().status == 200);
    std::this_thread::sleep_for(300ms);
    kill(server.pid(), SIGTERM);
    CHECK(quiet.closed_by_server());
    int status = server.wait_exit(8000);
    CHECK(WIFEXITED(status));
    CHECK(server.log().find("grace period over") == std::string::npos);  // no worker had to be killed
    sender.join();  // its send fails once the worker has gone (and times out otherwise): then the socket is ours alone
    greedy.reset();
}

TEST_CASE("a worker that dies at once is restarted after a pause, not in a loop") {
    ServerProcess server({{"--workers", "1"}});
    std::vector<pid_t> workers = await_workers(server, 1);
    REQUIRE(workers.size() == 1);
    for (int i = 0; i < 3; ++i) {  // kill each new worker as soon as it appears: it "dies young"
        kill(workers[0], SIGKILL);
        std::vector<pid_t> next;
        for (int j = 0; j < 600; ++j) {
            next = server.children();
            if (next.size() == 1 && next[0] != workers[0]) break;
            std::this_thread::sleep_for(10ms);
        }
        REQUIRE(next.size() == 1);
        workers = next;
    }
    std::string log = server.log();
    CHECK(log.find("died young: restarting it in 1000 ms") != std::string::npos);
    CHECK(log.find("died young: restarting it in 2000 ms") != std::string::npos);
    CHECK(exchange(server.port(), get("/hello")).status == 200);
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
