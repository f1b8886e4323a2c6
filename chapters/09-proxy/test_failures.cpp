// Chapter 09's own tests: what the proxy does when a backend fails. Retry where nothing can have
// happened twice, leave a failed backend out, bring it back when a health check passes, and
// otherwise say 502 or 504, never hang.
#include "common/blackbox/harness.hpp"
#include "fake_backend.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <map>
#include <memory>

using namespace one::test;
using namespace std::chrono_literals;

namespace {

ServerSpec proxy_to(const std::vector<std::string>& upstreams, std::vector<std::string> extra = {}) {
    ServerSpec spec{{"--workers", "1"}};
    for (const std::string& u : upstreams) spec.args.insert(spec.args.end(), {"--upstream", u});
    spec.args.insert(spec.args.end(), extra.begin(), extra.end());
    return spec;
}

std::string dead_address() { return "127.0.0.1:" + std::to_string(unused_port()); }

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_SUITE("09 proxy: when backends fail") {

TEST_CASE("a refused connection goes to the next backend, and the dead one is left out, logged once") {
    FakeBackend alive([](const Seen&) { return ok("alive"); });
    ServerProcess proxy(proxy_to({dead_address(), alive.address()}));
    Client client(proxy.port());
    for (int i = 0; i < 10; ++i) {
        client.send(get("/x"));
        Reply reply = client.read_reply();
        CHECK(reply.status == 200);
        CHECK(reply.body == "alive");
    }
    CHECK(count(proxy.log(), "is down") == 1);
}

TEST_CASE("no backend up: 502, and the client's connection stays open") {
    ServerProcess proxy(proxy_to({dead_address(), dead_address()}));
    Client client(proxy.port());
    for (int i = 0; i < 3; ++i) {
        client.send(get("/x"));
        CHECK(client.read_reply().status == 502);
    }
}

TEST_CASE("a GET whose connection closes before any response byte is retried on another backend") {
    FakeBackend closer([](const Seen&) { return kCloseNow; });
    FakeBackend alive([](const Seen&) { return ok("alive"); });
    ServerProcess proxy(proxy_to({closer.address(), alive.address()}));
    Reply reply = exchange(proxy.port(), get("/x"));
    CHECK(reply.status == 200);
    CHECK(reply.body == "alive");
    CHECK(closer.seen().size() == 1);
}

TEST_CASE("a POST whose connection closes before any response byte is not retried: 502") {
    FakeBackend closer([](const Seen&) { return kCloseNow; });
    FakeBackend alive([](const Seen&) { return ok("alive"); });
    ServerProcess proxy(proxy_to({closer.address(), alive.address()}));
    Reply reply = exchange(proxy.port(), request("POST", "/order", "", "pay once"));
    CHECK(reply.status == 502);
    CHECK(closer.seen().size() == 1);
    CHECK(alive.seen().empty());
    CHECK(proxy.log().find("not retried") != std::string::npos);
}

TEST_CASE("a response cut short gets 502 and is not retried") {
    FakeBackend cut([](const Seen&) { return kCloseAfter + "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"; });
    FakeBackend alive([](const Seen&) { return ok("alive"); });
    ServerProcess proxy(proxy_to({cut.address(), alive.address()}));
    CHECK(exchange(proxy.port(), get("/x")).status == 502);
    CHECK(alive.seen().empty());
}

TEST_CASE("a response the proxy cannot frame for certain gets 502") {
    for (std::string bad : {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                            "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n", "SMTP ready\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"}) {
        CAPTURE(bad);
        FakeBackend backend([bad](const Seen&) { return bad; });
        ServerProcess proxy(proxy_to({backend.address()}));
        CHECK(exchange(proxy.port(), get("/x")).status == 502);
    }
}

TEST_CASE("a backend silent past --upstream-timeout gets 504") {
    FakeBackend silent([](const Seen&) {
        std::this_thread::sleep_for(1500ms);
        return ok("late");
    });
    ServerProcess proxy(proxy_to({silent.address()}, {"--upstream-timeout", "200"}));
    CHECK(exchange(proxy.port(), get("/x")).status == 504);
}

TEST_CASE("a connection the backend closed while it was idle in the pool is not a failure") {
    FakeBackend closer([](const Seen&) { return kCloseAfter + ok("once"); });  // says keep-alive, then closes
    ServerProcess proxy(proxy_to({closer.address()}));
    Client client(proxy.port());
    for (int i = 0; i < 3; ++i) {
        client.send(get("/x"));
        CHECK(client.read_reply().body == "once");
        std::this_thread::sleep_for(100ms);  // the close reaches the proxy while the connection is idle
    }
    CHECK(closer.connections() == 3);
    CHECK(proxy.log().find("is down") == std::string::npos);
}

TEST_CASE("a failed backend stays out for --fail-timeout, and a passing health check brings it back") {
    int port = unused_port();
    std::string address = "127.0.0.1:" + std::to_string(port);
    FakeBackend other([](const Seen&) { return ok("other"); });
    for (bool checked : {false, true}) {
        CAPTURE(checked);
        std::vector<std::string> extra = {"--fail-timeout", "3600"};
        if (checked) extra.insert(extra.end(), {"--health-check", "/health", "--health-interval", "200"});
        ServerProcess proxy(proxy_to({address, other.address()}, extra));
        Client client(proxy.port());
        client.send(get("/x"));
        CHECK(client.read_reply().body == "other");  // refused: left out
        FakeBackend back([](const Seen&) { return ok("back"); }, port);  // the backend returns
        std::this_thread::sleep_for(800ms);
        int served_by_back = 0;
        for (int i = 0; i < 6; ++i) {
            client.send(get("/x"));
            served_by_back += client.read_reply().body == "back";
        }
        if (checked) {
            CHECK(served_by_back == 3);
            CHECK(back.seen().at(0).head.rfind("GET /health HTTP/1.1", 0) == 0);
            CHECK(proxy.log().find("is up again") != std::string::npos);
        } else {
            CHECK(served_by_back == 0);
        }
    }
}

TEST_CASE("out of descriptors for backend connections, clients get 503, never a hang, and the proxy recovers") {
    FakeBackend backend([](const Seen&) { return ok("x"); });
    // 64 descriptors, and a connection limit above them (by default the proxy keeps half for backends).
    ServerProcess proxy({{"--workers", "1", "--upstream", backend.address(), "--upstream-keepalive", "0",
                          "--max-connections", "1000"}, 64});
    std::vector<std::unique_ptr<Client>> held;
    for (int i = 0; i < 80; ++i) {
        held.push_back(std::make_unique<Client>(proxy.port()));
        REQUIRE(held.back()->send(get("/x")));
    }
    std::map<int, int> statuses;
    for (int i = 0; i < 40; ++i) ++statuses[held[i]->read_reply().status];
    CHECK(statuses[200] + statuses[503] == 40);
    CHECK(statuses[503] > 0);
    double before = proxy.cpu_seconds();
    std::this_thread::sleep_for(1s);
    CHECK(proxy.cpu_seconds() - before < 0.3);  // waiting, not spinning
    held.erase(held.begin(), held.begin() + 40);  // descriptors come back...
    for (auto& c : held) {
        int status = c->read_reply().status;  // ...and the clients that waited in the accept queue get in
        CHECK((status == 200 || status == 503));
    }
    held.clear();
    Reply after;
    for (int i = 0; i < 50 && after.status != 200; ++i) {
        std::this_thread::sleep_for(20ms);
        after = exchange(proxy.port(), get("/x"));
    }
    CHECK(after.status == 200);
    CHECK(proxy.log().find("no descriptor for a connection to a backend") != std::string::npos);
}

TEST_CASE("SIGTERM lets a request in flight at a backend finish") {
    FakeBackend slow([](const Seen&) {
        std::this_thread::sleep_for(500ms);
        return ok("finished");
    });
    ServerProcess proxy(proxy_to({slow.address()}, {"--grace", "5"}));
    Client client(proxy.port());
    client.send(get("/x"));
    std::this_thread::sleep_for(100ms);
    kill(proxy.pid(), SIGTERM);
    Reply reply = client.read_reply();
    CHECK(reply.status == 200);
    CHECK(reply.body == "finished");
    CHECK(proxy.wait_exit(5000) == 0);
}

}  // TEST_SUITE
