// Chapter 11's own tests: handshakes that go wrong. Bytes that are no ClientHello are refused at
// once, and never with HTTP in clear text; a handshake that stalls is closed at --header-timeout,
// costs a timer and not a thread, and gives its descriptor back; beyond --max-connections the
// extra client's handshake fails, with no plaintext 503 in the TLS stream.
#include "front_door_spec.hpp"
#include "common/blackbox/harness.hpp"
#include "common/blackbox/json.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <poll.h>

using namespace one::test;
using namespace std::chrono_literals;

namespace {

bool answers(Client& client) {
    return client.send(get("/hello")) && client.read_reply().body == "hello";
}

// What a raw socket receives until the server closes it, within `limit`, without answering
// anything: a stalled handshake stays stalled.
struct RawEnd {
    bool closed = false;   // EOF or reset within the limit
    std::string bytes;     // what came first
    long ms = 0;           // when the close came, from the call
};

RawEnd read_raw_until_close(int fd, std::chrono::milliseconds limit) {
    RawEnd end;
    auto start = std::chrono::steady_clock::now();
    for (;;) {
        auto left = limit - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) return end;
        char chunk[4096];
        ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n > 0) {
            end.bytes.append(chunk, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EAGAIN) continue;
        end.closed = true;
        end.ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
        return end;
    }
}

// Nothing an HTTP client could take for an answer: no bytes, or TLS records (an alert is 0x15).
bool no_http(const std::string& bytes) {
    return bytes.find("HTTP/") == std::string::npos && (bytes.empty() || bytes[0] == '\x15' || bytes[0] == '\x16');
}

// An SSL 2.0-style ClientHello, as very old clients sent: a two-byte header with the top bit set,
// type 1, version 2, then cipher specs and a challenge.
std::string sslv2_hello() {
    std::string hello = {'\x80', '\x2e', '\x01', '\x00', '\x02', '\x00', '\x15', '\x00', '\x00', '\x00', '\x10'};
    hello += std::string("\x07\x00\xc0\x05\x00\x80\x03\x00\x80\x01\x00\x80\x06\x00\x40\x04\x00\x80\x02\x00\x80", 21);
    return hello + std::string(16, '\x5a');
}

}  // namespace

TEST_SUITE("11 tls: handshakes that go wrong") {

TEST_CASE("bytes that are no ClientHello are refused at once, with no HTTP in clear text") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    // A long header timeout: a refusal must come from reading the bytes, not from the clock.
    ServerProcess server(front_door(backend, {"--header-timeout", "30000"}));
    std::string corrupted = client_hello();
    corrupted[5] = '\x02';  // a ServerHello where the ClientHello belongs
    std::string random_bytes;
    for (int i = 0; i < 600; ++i) random_bytes += static_cast<char>((i * 131 + 7) % 251);
    struct Case {
        const char* what;
        std::string bytes;
    };
    for (const Case& c : std::vector<Case>{{"plain HTTP", get("/hello")},
                                           {"random bytes", random_bytes},
                                           {"an SSLv2-style hello", sslv2_hello()},
                                           {"a record header announcing 65535 bytes", std::string("\x16\x03\x01\xff\xff", 5) + std::string(100, 'x')},
                                           {"a corrupted ClientHello", corrupted}}) {
        CAPTURE(c.what);
        Client raw(server.port(), {.on = false});
        REQUIRE(raw.connected());
        REQUIRE(raw.send(c.bytes));
        std::string got;
        CHECK(raw.read_to_close(got));  // within the client's 5 s, not the server's 30 s
        CAPTURE(got.substr(0, 40));
        CHECK(no_http(got));
    }
    Client next(server.port());
    CHECK(answers(next));
}

TEST_CASE("a stalled handshake is closed at --header-timeout and gives its descriptor back") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend, {"--header-timeout", "600", "--idle-timeout", "60000"}));
    long fds_before = server.steady_fds();
    std::string hello = client_hello();
    SUBCASE("5 bytes of a ClientHello") {
        Client raw(server.port(), {.on = false});
        REQUIRE(raw.send(hello.substr(0, 5)));
        RawEnd end = read_raw_until_close(raw.fd(), 5000ms);
        CHECK(end.closed);
        CHECK(end.ms >= 480);    // not before 0.8 of the timeout
        CHECK(end.ms <= 1700);   // nor long after it
        CHECK(no_http(end.bytes));
    }
    // What the server sees of a real client that stops after its first flight: the same hello, then
    // nothing. (A real client cannot be made to stop there: given the server's answer in time, one
    // SSL_connect finishes the handshake, as it did under TSan.)
    SUBCASE("a whole ClientHello, and the server's answer never read") {
        Client raw(server.port(), {.on = false});
        REQUIRE(raw.send(hello));
        RawEnd end = read_raw_until_close(raw.fd(), 5000ms);
        CHECK(end.closed);
        CHECK(end.ms >= 480);
        CHECK(end.ms <= 1700);
        CHECK(no_http(end.bytes));
    }
    CHECK(server.steady_fds() == fds_before);
}

TEST_CASE("200 stalled handshakes do not delay a client that completes its own") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend, {"--header-timeout", "30000"}));
    std::string hello = client_hello();
    std::vector<std::unique_ptr<Client>> stalled;
    for (int i = 0; i < 200; ++i) {
        stalled.push_back(std::make_unique<Client>(server.port(), TlsOptions{.on = false}));
        REQUIRE(stalled.back()->send(i % 2 ? hello : hello.substr(0, 20)));
    }
    Client normal(server.port(), 1000);  // a server that waits on any stalled handshake fails this patience
    REQUIRE(normal.connected());
    for (int i = 0; i < 10; ++i) CHECK(answers(normal));
}

TEST_CASE("beyond --max-connections the extra handshake fails, with no plaintext 503, and is counted") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend, {"--max-connections", "3"}));
    std::vector<std::unique_ptr<Client>> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(std::make_unique<Client>(server.port()));
        REQUIRE(held.back()->connected());
        REQUIRE(answers(*held.back()));
    }
    Client raw(server.port(), {.on = false});
    REQUIRE(raw.send(client_hello()));
    std::string got;
    CHECK(raw.read_to_close(got));
    CAPTURE(got.substr(0, 40));
    CHECK(got.find("HTTP/") == std::string::npos);  // a 503 in clear text would corrupt the TLS stream
    Client extra(server.port());
    CHECK_FALSE(extra.connected());
    held.pop_back();  // room for one more: the one that reads /status
    std::this_thread::sleep_for(200ms);
    Client status(server.port());
    REQUIRE(status.connected());
    REQUIRE(status.send(get("/status?format=json")));
    Reply page = status.read_reply();
    REQUIRE(page.status == 200);
    std::optional<Json> json = parse_json(page.body);
    REQUIRE(json);
    CHECK(json->number_at({"total", "refused", "503_max_connections"}).value_or(0) >= 2);
}

}  // TEST_SUITE
