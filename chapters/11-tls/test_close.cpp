// Chapter 11's own tests: how a TLS stream ends. A server that is done says so with close_notify,
// after Connection: close, at the idle timeout, and after a 408, which arrives encrypted like
// everything else. A body the backend cut short must end WITHOUT close_notify: for a client whose
// body ends with the connection (HTTP/1.0), close_notify is the only sign it has it all.
#include "front_door_spec.hpp"
#include "common/blackbox/harness.hpp"

#include <doctest/doctest.h>

using namespace one::test;
using namespace std::chrono_literals;

namespace {

// Endings by name, so that a failed CHECK prints them.
std::string ended(const Client& client) { return name(client.ending()); }
std::string said(Ending e) { return name(e); }

}  // namespace

TEST_SUITE("11 tls: how a stream ends") {

TEST_CASE("Connection: close ends with close_notify") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend));
    Client client(server.port());
    REQUIRE(client.send(get("/hello", "Connection: close\r\n")));
    CHECK(client.read_reply().body == "hello");
    CHECK(client.closed_by_server());
    CHECK(ended(client) == said(Ending::CloseNotify));
}

TEST_CASE("the idle timeout ends with close_notify, before and after a request") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend, {"--idle-timeout", "300"}));
    Client quiet(server.port()), spoke(server.port());
    REQUIRE(quiet.connected());
    REQUIRE(spoke.send(get("/hello")));
    CHECK(spoke.read_reply().body == "hello");
    CHECK(quiet.closed_by_server());
    CHECK(ended(quiet) == said(Ending::CloseNotify));
    CHECK(spoke.closed_by_server());
    CHECK(ended(spoke) == said(Ending::CloseNotify));
}

TEST_CASE("a 408 at --header-timeout arrives encrypted, then close_notify") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend, {"--header-timeout", "400", "--idle-timeout", "60000"}));
    Client slow(server.port());
    REQUIRE(slow.connected());
    REQUIRE(slow.send("GET /hello HTTP/1.1\r\nHost: t"));  // and nothing more
    Reply reply = slow.read_reply();
    CAPTURE(slow.tls_failure().text);  // a 408 written in clear text into the stream is a bad record
    CHECK(reply.status == 408);
    CHECK(slow.closed_by_server());
    CHECK(ended(slow) == said(Ending::CloseNotify));
}

TEST_CASE("a client that sends close_notify first still gets its answer (TLS 1.3 half-close)") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend));
    Client client(server.port());
    REQUIRE(client.send(get("/hello")));
    client.shutdown_write();
    CHECK(client.read_reply().body == "hello");
    CHECK(client.closed_by_server());
    CHECK(ended(client) == said(Ending::CloseNotify));
}

TEST_CASE("an HTTP/1.0 client of a relayed body: close_notify when it is whole, none when the backend cut it") {
    std::string body = pattern(1 << 20);  // over --buffer: relayed while it arrives
    FakeBackend backend([&](const Seen& seen) {
        bool cut = seen.head.rfind("GET /cut", 0) == 0;
        // The cut one: most of the body, no last chunk, then the backend's connection closes.
        return cut ? kCloseAfter + ok_chunked(body.substr(0, 700 << 10), 10000, true) : ok_chunked(body, 10000);
    });
    ServerProcess server(front_door(backend, {"--buffer", "65536"}));

    Client whole(server.port(), 20000);
    REQUIRE(whole.send("GET /whole HTTP/1.0\r\n\r\n"));
    std::string got;
    CHECK(whole.read_to_close(got));
    size_t head_end = got.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    CHECK(got.substr(head_end + 4) == body);
    CHECK(ended(whole) == said(Ending::CloseNotify));

    Client cut(server.port(), 20000);
    REQUIRE(cut.send("GET /cut HTTP/1.0\r\n\r\n"));
    got.clear();
    CHECK(cut.read_to_close(got));
    head_end = got.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    CHECK(got.size() - head_end - 4 < body.size());
    CHECK(ended(cut) == said(Ending::Truncated));  // close_notify here would make the cut body look whole
}

}  // TEST_SUITE
