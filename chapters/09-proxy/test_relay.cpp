// Chapter 09's own tests: responses longer than --buffer, which the proxy relays while they
// arrive. They arrive whole and framed, a client that stops reading holds the backend back rather
// than filling the proxy's memory, and a client that leaves frees the backend's connection.
#include "common/blackbox/harness.hpp"
#include "fake_backend.hpp"

#include <doctest/doctest.h>

using namespace one::test;
using namespace std::chrono_literals;

namespace {

ServerSpec proxy_for(const FakeBackend& backend, std::string buffer = "65536") {
    return {{"--workers", "1", "--upstream", backend.address(), "--buffer", buffer}};
}

}  // namespace

TEST_SUITE("09 proxy: relaying long responses") {

TEST_CASE("a response longer than --buffer with a Content-Length arrives whole, with that length") {
    std::string body = pattern(4 << 20);
    FakeBackend backend([&](const Seen&) { return ok(body); });
    ServerProcess proxy(proxy_for(backend));
    Client client(proxy.port(), 20000);
    for (int i = 0; i < 2; ++i) {  // and the connections on both sides carry the next one
        client.send(get("/big"));
        Reply reply = client.read_reply();
        CHECK(reply.header("Content-Length") == std::to_string(body.size()));
        CHECK(reply.body.size() == body.size());
        CHECK(reply.body == body);
    }
    CHECK(backend.connections() == 1);
}

TEST_CASE("a long response within --buffer is held whole and handed over in one piece, in order, HEAD without it") {
    std::string body = pattern(600 << 10);  // over the 64 KiB above which a held body goes as one piece
    FakeBackend backend([&](const Seen& seen) {
        return seen.head.rfind("HEAD", 0) == 0 ? "HTTP/1.1 200 OK\r\nContent-Length: 614400\r\n\r\n" : ok(body);
    });
    ServerProcess proxy(proxy_for(backend, "1048576"));
    Client client(proxy.port(), 20000);
    client.send(get("/big") + get("/big") + request("HEAD", "/big"));  // pipelined: answered in order
    for (int i = 0; i < 2; ++i) {
        Reply reply = client.read_reply();
        CHECK(reply.header("Content-Length") == std::to_string(body.size()));
        CHECK(reply.body == body);
    }
    Reply head = client.read_reply(true);
    CHECK(head.status == 200);
    CHECK(head.body.empty());
    client.send(get("/big"));  // and the connection carries on
    CHECK(client.read_reply().body == body);
}

TEST_CASE("a chunked response longer than --buffer reaches an HTTP/1.1 client chunked, an HTTP/1.0 one until close") {
    std::string body = pattern(1 << 20);
    FakeBackend backend([&](const Seen&) { return ok_chunked(body, 10000); });
    ServerProcess proxy(proxy_for(backend));
    Client client(proxy.port(), 20000);
    client.send(get("/big"));
    Reply reply = client.read_reply();
    CHECK(reply.header("Transfer-Encoding") == "chunked");
    CHECK(reply.body == body);
    Client old(proxy.port(), 20000);
    old.send("GET /big HTTP/1.0\r\n\r\n");
    std::string got;
    CHECK(old.read_to_close(got));
    size_t head_end = got.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    CHECK(got.find("Connection: close") < head_end);
    CHECK(got.substr(head_end + 4) == body);
}

TEST_CASE("a client that stops reading holds the backend back, and the proxy's memory stays bounded") {
    std::string body = pattern(256 << 20);
    FakeBackend backend([&](const Seen&) { return ok(body); });
    ServerProcess proxy(proxy_for(backend));
    long before = proxy.rss_kib();
    Client client(proxy.port());
    client.send(get("/huge"));
    std::this_thread::sleep_for(1500ms);  // long enough for 256 MiB to cross loopback many times over
    long grown = proxy.rss_kib() - before;
    CAPTURE(grown);
    CHECK(grown < 16 * 1024 * kMemorySlack);  // the relay's high-water mark and socket buffers, not the body
    CHECK(backend.open_connections() == 1);   // still writing: held back, not finished
}

TEST_CASE("a client that leaves in the middle of a relayed body frees the backend's connection") {
    // 64 MiB: more than the socket buffers on both sides and the relay hold, so the backend is
    // still writing when the client leaves; the answer is made once, not per request (slow under TSan).
    std::string answer = ok(pattern(64 << 20));
    FakeBackend backend([&](const Seen&) { return answer; });
    ServerProcess proxy(proxy_for(backend));
    {
        Client client(proxy.port());
        client.send(get("/huge"));
        std::this_thread::sleep_for(300ms);
        client.reset();
    }
    for (int i = 0; i < 400 && backend.open_connections() > 0; ++i) std::this_thread::sleep_for(50ms);
    CHECK(backend.open_connections() == 0);  // the proxy closed its side, so the backend's write failed
    CHECK(proxy.alive());
}

}  // TEST_SUITE
