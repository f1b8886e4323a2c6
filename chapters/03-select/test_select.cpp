// Chapter 03's own test: select()'s wall at FD_SETSIZE.
#include "common/blackbox/harness.hpp"
#include "common/blackbox/json.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <sys/select.h>

using namespace one::test;

TEST_SUITE("03-select") {

TEST_CASE("clients on descriptors beyond FD_SETSIZE get 503 and the server lives") {
    long limit = one::raise_fd_limit();
    if (limit < FD_SETSIZE + 200) {
        MESSAGE("skipped: this test needs " << FD_SETSIZE + 200 << " descriptors and the hard limit is " << limit);
        return;
    }
    ServerProcess server;
    std::vector<std::unique_ptr<Client>> clients;
    int served = 0, refused = 0;
    for (int i = 0; i < FD_SETSIZE + 100; ++i) {
        clients.push_back(std::make_unique<Client>(server.port()));
        REQUIRE(clients.back()->send(get("/hello")));
        Reply reply = clients.back()->read_reply();
        served += reply.status == 200;
        refused += reply.status == 503;
    }
    CAPTURE(served);
    CAPTURE(refused);
    CHECK(served > FD_SETSIZE - 20);  // the server's own descriptors (listener, stdio) come first
    CHECK(served < FD_SETSIZE);
    CHECK(served + refused == FD_SETSIZE + 100);
    CHECK(server.alive());
    // Once the wall is passed the connections below it still work...
    REQUIRE(clients.front()->send(get("/hello")));
    CHECK(clients.front()->read_reply().body == "Hello, World!");
    // ...and /status counted each refusal under its reason.
    REQUIRE(clients.front()->send(get("/status?format=json")));
    std::optional<Json> page = parse_json(clients.front()->read_reply().body);
    REQUIRE(page);
    CHECK(page->number_at({"total", "refused", "503_fd_setsize"}) == refused);
    // ...and the wall was logged once for the burst, not once per client.
    std::string log = server.log();
    size_t first = log.find("beyond what the poller can watch");
    CHECK(first != std::string::npos);
    CHECK(log.find("beyond what the poller can watch", first + 1) == std::string::npos);
}

}  // TEST_SUITE
