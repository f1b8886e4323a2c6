// Chapter 02's own tests: what is special about a thread per connection.
#include "common/blackbox/harness.hpp"
#include "common/blackbox/json.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <thread>

using namespace one::test;

static size_t count(const std::string& text, const std::string& word) {
    size_t n = 0;
    for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
    return n;
}

TEST_SUITE("02-threads") {

TEST_CASE("/status counts the threads alive: the one that accepts, and one per connection") {
    ServerProcess server;
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(std::make_unique<Client>(server.port()));
        REQUIRE(clients.back()->send(get("/hello")));
        REQUIRE(clients.back()->read_reply().status == 200);  // its thread has started
    }
    std::optional<Json> page;
    for (int i = 0; i < 100; ++i) {  // a thread counts itself idle once its write has returned, maybe after its client read
        page = parse_json(one::test::exchange(server.port(), get("/status?format=json")).body);
        REQUIRE(page);
        if (page->number_at({"total", "connections", "idle"}) == 3) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(page->number_at({"total", "model_numbers", "threads_alive"}) == 1 + 3 + 1);  // and the one asking
    CHECK(page->number_at({"total", "connections", "idle"}) == 3);
}

TEST_CASE("each connection has its own thread, gone when the connection goes") {
    ServerProcess server;
    // One client first: a sanitizer's runtime starts a helper thread of its own with the first thread.
    REQUIRE(exchange(server.port(), get("/hello")).status == 200);
    long alone = server.threads();
    for (int same = 0, i = 0; same < 10 && i < 200; ++i) {  // until the first client's thread has gone
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        long now = server.threads();
        same = now == alone ? same + 1 : 0;
        alone = now;
    }
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 10; ++i) {
        clients.push_back(std::make_unique<Client>(server.port()));
        REQUIRE(clients.back()->send(get("/hello")));
        REQUIRE(clients.back()->read_reply().status == 200);
    }
    CHECK(server.threads() == alone + 10);
    clients.clear();
    for (int i = 0; i < 100 && server.threads() > alone; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(server.threads() == alone);
}

TEST_CASE("--stack-size sets the reserved stack of each client thread") {
    ServerProcess small({{"--stack-size", "64K"}});
    ServerProcess large({{"--stack-size", "64M"}});
    Client a(small.port()), b(large.port());
    REQUIRE(a.send(get("/hello")));
    REQUIRE(b.send(get("/hello")));
    REQUIRE(a.read_reply().status == 200);
    REQUIRE(b.read_reply().status == 200);
    // One client thread each: the address-space difference is about the difference in stacks.
    long difference = (large.vm_kib() - small.vm_kib()) - (64 * 1024 - 64);
    CAPTURE(difference);
    CHECK(std::abs(difference) < 8 * 1024);
}

// Sanitizers reserve terabytes of address space for shadow memory, so a test that limits the
// address space cannot run under them.
TEST_CASE("when no thread can be started the client gets 503 and the server carries on" * doctest::skip(kSanitized)) {
    long stack_kib = 16 * 1024;
    long base_kib;
    {
        ServerProcess probe({{"--stack-size", "16M"}});
        base_kib = probe.vm_kib();
    }
    // Room for the process as it starts plus two client stacks and a little: the third thread cannot be made.
    ServerProcess server({{"--stack-size", "16M"}, 0, (base_kib + 2 * stack_kib + stack_kib / 2) * 1024});
    std::vector<std::unique_ptr<Client>> held;
    for (int i = 0; i < 2; ++i) {
        held.push_back(std::make_unique<Client>(server.port()));
        REQUIRE(held.back()->send(get("/hello")));
        REQUIRE(held.back()->read_reply().status == 200);
    }
    for (int i = 0; i < 3; ++i) {
        Client refused(server.port());
        REQUIRE(refused.send(get("/hello")));
        Reply reply = refused.read_reply();
        CHECK(reply.status == 503);
        CHECK(reply.header("Connection") == "close");
        CHECK(refused.closed_by_server());
    }
    held.clear();  // two threads end, and their stacks can be reused
    Reply again;
    for (int i = 0; i < 100 && again.status != 200; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        again = exchange(server.port(), get("/hello"));
    }
    CHECK(again.status == 200);
    CHECK(server.alive());
    std::string log = server.log();
    CAPTURE(log);
    CHECK(count(log, "cannot start a thread") == 2);     // one line when the burst began...
    CHECK(count(log, "2 more before it recovered") == 1);  // ...and one when it ended, counting the rest
}

}  // TEST_SUITE
