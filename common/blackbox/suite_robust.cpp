// The shared black-box suite, part 5: crowds that arrive at once and leave rudely. Every chapter
// runs it, the blocking ones included: a server on the internet meets these whatever its model.
// After each, the server must still answer and hold no more descriptors than before.
#include "harness.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <thread>

using namespace one::test;
using namespace std::chrono_literals;

namespace {

// Waits (up to 5 s) until the server holds no more descriptors than `before`: it may still be
// closing the connections the test just dropped. Returns what it holds then.
long fds_settled(const ServerProcess& server, long before) {
    long now = server.open_fds();
    for (int i = 0; i < 250 && now > before; ++i) {
        std::this_thread::sleep_for(20ms);
        now = server.open_fds();
    }
    return now;
}

}  // namespace

TEST_SUITE("robustness") {

TEST_CASE("a storm of 500 concurrent clients is answered, and every descriptor comes back") {
    ServerProcess server;
    long before = server.steady_fds();
    std::vector<std::unique_ptr<Client>> storm;
    for (int i = 0; i < 500; ++i) {
        storm.push_back(std::make_unique<Client>(server.port(), 10000));
        REQUIRE(storm.back()->connected());
    }
    for (auto& c : storm) REQUIRE(c->send(get("/hello", "Connection: close\r\n")));
    int answered = 0;
    for (auto& c : storm) answered += c->read_reply().body == "Hello, World!";
    CHECK(answered == 500);
    storm.clear();
    CHECK(fds_settled(server, before) == before);
    CHECK(exchange(server.port(), get("/hello")).status == 200);
}

TEST_CASE("1000 connections opened and reset at once do not hurt the server") {
    ServerProcess server;
    long before = server.steady_fds();
    std::vector<std::unique_ptr<Client>> crowd;
    for (int i = 0; i < 1000; ++i) {
        crowd.push_back(std::make_unique<Client>(server.port()));
        REQUIRE(crowd.back()->connected());
        // A third say nothing, a third send half a request, a third a whole one they will not read.
        std::string whole = get("/hello");
        if (i % 3 == 1) crowd.back()->send(whole.substr(0, whole.size() / 2));
        if (i % 3 == 2) crowd.back()->send(whole);
    }
    for (auto& c : crowd) c->reset();
    crowd.clear();
    CHECK(exchange(server.port(), get("/hello")).body == "Hello, World!");
    CHECK(server.alive());
    CHECK(fds_settled(server, before) == before);
}

TEST_CASE("a client that sends a request and vanishes before the answer leaks nothing") {
    ServerProcess server;
    long before = server.steady_fds();
    for (int i = 0; i < 50; ++i) {
        Client c(server.port());
        REQUIRE(c.send(get("/sleep?ms=20")));  // the answer comes after the client has gone
        // closed without reading: the server writes into a reset connection (EPIPE, never SIGPIPE)
    }
    std::this_thread::sleep_for(200ms);
    CHECK(exchange(server.port(), get("/hello")).body == "Hello, World!");
    CHECK(fds_settled(server, before) == before);
}

}  // TEST_SUITE
