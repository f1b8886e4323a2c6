// Chapter 11's own tests: resumption and reload. A ticket resumes on TLS 1.3 and 1.2, on any
// worker (the master made the keys before it forked), and still after one SIGHUP but not after
// two; a ticket it cannot read costs a full handshake, never a failure. A TLS 1.2 ticket is renewed
// only when its key is the previous one; a TLS 1.3 ticket, every time. A reload leaves the
// connections already open to finish on the old workers.
#include "front_door_spec.hpp"
#include "common/blackbox/harness.hpp"

#include <doctest/doctest.h>

#include <openssl/ssl.h>

#include <algorithm>
#include <csignal>

using namespace one::test;
using namespace std::chrono_literals;

namespace {

bool answers(Client& client) {
    return client.send(get("/hello")) && client.read_reply().body == "hello";
}

// A ticket from one full exchange on a new connection (TLS 1.3 sends it after the handshake).
std::shared_ptr<TlsSession> ticket_from(int port, TlsOptions options = {}) {
    Client first(port, options);
    REQUIRE(first.connected());
    REQUIRE(answers(first));
    CHECK_FALSE(first.tls_info().resumed);
    std::shared_ptr<TlsSession> ticket = first.tls_session();
    REQUIRE(ticket);
    CHECK(ticket->resumable());
    return ticket;
}

// What a new connection offering `ticket` got; it must be served either way.
TlsInfo offering(int port, const std::shared_ptr<TlsSession>& ticket, TlsOptions options = {}) {
    options.resume = ticket;
    Client client(port, options);
    REQUIRE(client.connected());
    CHECK(answers(client));
    return client.tls_info();
}

bool resumes(int port, const std::shared_ptr<TlsSession>& ticket, TlsOptions options = {}) {
    return offering(port, ticket, options).resumed;
}

// SIGHUP, then wait until none of `old` workers is left and the new ones are up.
std::vector<pid_t> reload(ServerProcess& server, const std::vector<pid_t>& old) {
    kill(server.pid(), SIGHUP);
    std::vector<pid_t> now;
    for (int i = 0; i < 500; ++i) {
        now = server.children();
        bool replaced = now.size() == old.size() &&
                        std::none_of(now.begin(), now.end(), [&](pid_t p) { return std::find(old.begin(), old.end(), p) != old.end(); });
        if (replaced) return now;
        std::this_thread::sleep_for(20ms);
    }
    FAIL_CHECK("the workers were not replaced within 10 s of SIGHUP");
    return now;
}

std::vector<pid_t> await_workers(ServerProcess& server, size_t count) {
    std::vector<pid_t> workers;
    for (int i = 0; i < 500 && (workers = server.children()).size() != count; ++i) std::this_thread::sleep_for(10ms);
    return workers;
}

}  // namespace

TEST_SUITE("11 tls: resumption") {

TEST_CASE("a TLS 1.3 ticket resumes, and a connection without one does not") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend));
    std::shared_ptr<TlsSession> ticket = ticket_from(server.port(), {.min_version = TLS1_3_VERSION});
    CHECK(ticket->version() == "TLSv1.3");
    CHECK(resumes(server.port(), ticket));
    Client fresh(server.port());
    CHECK_FALSE(fresh.tls_info().resumed);
}

TEST_CASE("a resumed TLS 1.3 connection gets a fresh ticket, which resumes the next: a client reconnecting for ever never pays a full handshake again") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend));
    std::shared_ptr<TlsSession> ticket = ticket_from(server.port(), {.min_version = TLS1_3_VERSION});
    for (int hop = 0; hop < 3; ++hop) {
        CAPTURE(hop);
        Client next(server.port(), {.min_version = TLS1_3_VERSION, .resume = ticket});
        REQUIRE(next.connected());
        CHECK(answers(next));  // the ticket comes with the first read, before the answer
        CHECK(next.tls_info().resumed);
        std::shared_ptr<TlsSession> fresh = next.tls_session();
        REQUIRE(fresh);
        CHECK(fresh != ticket);
        ticket = fresh;
    }
}

TEST_CASE("a TLS 1.2 ticket resumes") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend));
    TlsOptions v12{.max_version = TLS1_2_VERSION};
    std::shared_ptr<TlsSession> ticket = ticket_from(server.port(), v12);
    CHECK(ticket->version() == "TLSv1.2");
    CHECK(resumes(server.port(), ticket, v12));
    CHECK(resumes(server.port(), ticket, v12));  // 1.2 tickets are not single-use on our side
}

TEST_CASE("a TLS 1.2 ticket under the current key is not renewed: a client keeps resuming with it") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend));
    TlsOptions v12{.max_version = TLS1_2_VERSION};
    std::shared_ptr<TlsSession> ticket = ticket_from(server.port(), v12);
    REQUIRE_FALSE(ticket->ticket().empty());
    for (int i = 0; i < 3; ++i) {
        CAPTURE(i);
        TlsInfo info = offering(server.port(), ticket, v12);
        CHECK(info.resumed);
        // A renewal would have come as a NewSessionTicket inside this handshake, and an OpenSSL
        // client would have dropped the ticket it offered without telling its new-session
        // callback of the new one (loadgen saw every other reconnection pay a full handshake).
        CHECK(info.ticket == ticket->ticket());
    }
}

TEST_CASE("one ticket resumes on every worker: the keys are the master's") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend, {"--workers", "4"}));
    REQUIRE(await_workers(server, 4).size() == 4);
    std::shared_ptr<TlsSession> ticket = ticket_from(server.port());
    int resumed = 0;
    // SO_REUSEPORT spreads connections by their ports: with keys made per worker, some of these 20
    // would land on another worker than the first and get a full handshake (all on one: 4^-20).
    for (int i = 0; i < 20; ++i) resumed += resumes(server.port(), ticket);
    CHECK(resumed == 20);
}

TEST_CASE("after one SIGHUP an old ticket still resumes; after two it gets a full handshake") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend, {"--workers", "2"}));
    std::vector<pid_t> workers = await_workers(server, 2);
    REQUIRE(workers.size() == 2);
    std::shared_ptr<TlsSession> ticket = ticket_from(server.port());
    workers = reload(server, workers);
    CHECK(resumes(server.port(), ticket));
    workers = reload(server, workers);
    CHECK_FALSE(resumes(server.port(), ticket));  // and served all the same
}

TEST_CASE("after one SIGHUP a TLS 1.2 ticket resumes and is renewed, under the current key") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend, {"--workers", "2"}));
    std::vector<pid_t> workers = await_workers(server, 2);
    REQUIRE(workers.size() == 2);
    TlsOptions v12{.max_version = TLS1_2_VERSION};
    std::shared_ptr<TlsSession> ticket = ticket_from(server.port(), v12);
    reload(server, workers);
    TlsInfo info = offering(server.port(), ticket, v12);
    CHECK(info.resumed);
    REQUIRE_FALSE(info.ticket.empty());
    CHECK(info.ticket != ticket->ticket());  // a NewSessionTicket came, under the current key
}

TEST_CASE("a ticket from another server process gets a full handshake, not an error") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess one(front_door(backend));
    ServerProcess other(front_door(backend));
    std::shared_ptr<TlsSession> ticket = ticket_from(one.port());
    CHECK_FALSE(resumes(other.port(), ticket));
}

}  // TEST_SUITE

TEST_SUITE("11 tls: reload") {

TEST_CASE("SIGHUP keeps the TLS connections already open: a request in flight is answered on the same session") {
    FakeBackend backend([](const Seen& seen) {
        if (seen.head.rfind("GET /slow", 0) == 0) std::this_thread::sleep_for(1500ms);
        return ok("hello");
    });
    ServerProcess server(front_door(backend));
    std::vector<pid_t> workers = await_workers(server, 1);
    REQUIRE(workers.size() == 1);
    Client open(server.port());
    REQUIRE(open.connected());
    REQUIRE(answers(open));
    REQUIRE(open.send(get("/slow")));
    std::this_thread::sleep_for(200ms);  // the request is with the backend now
    kill(server.pid(), SIGHUP);
    Reply reply = open.read_reply();  // from the old worker, which finishes what it serves
    CHECK(reply.status == 200);
    CHECK(reply.body == "hello");
    // Then the retiring worker ends the connection, as a server should: with close_notify.
    CHECK(open.closed_by_server());
    CHECK(std::string(name(open.ending())) == name(Ending::CloseNotify));
    Client fresh(server.port());  // the new worker, with the certificates read again
    CHECK(answers(fresh));
    CHECK(server.log().find("reload: TLS") != std::string::npos);
}

}  // TEST_SUITE
