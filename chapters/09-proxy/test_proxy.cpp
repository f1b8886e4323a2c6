// Chapter 09's own tests, from outside: the proxy between a real client and fake backends
// (fake_backend.hpp) that answer what each test needs. What passes through and how it changes,
// how backends are chosen, and that connections to them are reused.
#include "common/blackbox/harness.hpp"
#include "fake_backend.hpp"

#include <doctest/doctest.h>

#include <map>

using namespace one::test;
using namespace std::chrono_literals;

namespace {

// The proxy, one worker, in front of `backends`, with `extra` options.
ServerSpec proxy_spec(const std::vector<const FakeBackend*>& backends, std::vector<std::string> extra = {}) {
    ServerSpec spec{{"--workers", "1"}};
    for (const FakeBackend* b : backends) spec.args.insert(spec.args.end(), {"--upstream", b->address()});
    spec.args.insert(spec.args.end(), extra.begin(), extra.end());
    return spec;
}

std::string echo_target(const Seen& s) { return ok(s.head.substr(0, s.head.find("\r\n"))); }

}  // namespace

TEST_SUITE("09 proxy: passing messages on") {

TEST_CASE("a request reaches the backend with hop-by-hop fields dropped and who-asked fields added") {
    FakeBackend backend([](const Seen&) { return ok("hi"); });
    ServerProcess proxy(proxy_spec({&backend}));
    Client client(proxy.port());
    client.send(request("POST", "/form?x=1",
                        "Connection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
                        "Upgrade: websocket\r\nProxy-Connection: keep-alive\r\nX-Forwarded-For: 10.0.0.1\r\n"
                        "Via: 1.1 edge\r\nX-Kept: yes\r\nTransfer-Encoding: chunked\r\n",
                        "") + "5\r\nhello\r\n0\r\n\r\n");
    Reply reply = client.read_reply();
    CHECK(reply.status == 200);
    CHECK(reply.body == "hi");
    REQUIRE(backend.seen().size() == 1);
    Seen seen = backend.seen()[0];
    CHECK(seen.head.rfind("POST /form?x=1 HTTP/1.1\r\n", 0) == 0);
    CHECK(seen.header("host") == "test");
    CHECK(seen.header("x-kept") == "yes");
    for (const char* gone : {"x-secret", "keep-alive", "te", "upgrade", "proxy-connection", "transfer-encoding", "connection"})
        CHECK_MESSAGE(seen.header(gone).empty(), std::string(gone) << " was passed on");
    CHECK(seen.header("x-forwarded-for") == "10.0.0.1, 127.0.0.1");
    CHECK(seen.header("x-forwarded-proto") == "http");
    CHECK(seen.header("via") == "1.1 edge, 1.1 one-loop");
    CHECK(seen.header("content-length") == "5");  // the chunked body, framed anew
    CHECK(seen.body == "hello");
}

TEST_CASE("an absolute-form target goes on in origin form with its host") {
    FakeBackend backend(echo_target);
    ServerProcess proxy(proxy_spec({&backend}));
    Reply reply = exchange(proxy.port(), "GET http://example.test/a/b?c=d HTTP/1.1\r\nHost: example.test\r\n\r\n");
    CHECK(reply.body == "GET /a/b?c=d HTTP/1.1");
    CHECK(backend.seen().at(0).header("host") == "example.test");
}

TEST_CASE("a response comes back with the backend's fields, its own hop-by-hop ones dropped, framed by Content-Length") {
    FakeBackend backend([](const Seen&) {
        return std::string("HTTP/1.1 201 Made Here\r\nContent-Type: text/x-test\r\nX-From: backend\r\nKeep-Alive: timeout=3\r\n"
                           "Connection: X-Hop\r\nX-Hop: 1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    });
    ServerProcess proxy(proxy_spec({&backend}));
    Client client(proxy.port());
    client.send(get("/made"));
    Reply reply = client.read_reply();
    CHECK(reply.status == 201);
    CHECK(reply.body == "abcde");
    CHECK(reply.header("Content-Length") == "5");
    CHECK(reply.header("Transfer-Encoding").empty());
    CHECK(reply.header("Content-Type") == "text/x-test");
    CHECK(reply.header("X-From") == "backend");
    CHECK(reply.header("X-Hop").empty());
    CHECK(reply.header("Keep-Alive").empty());
    CHECK(reply.header("Via") == "1.1 one-loop");
    client.send(get("/again"));  // and the client's connection stays open
    CHECK(client.read_reply().status == 201);
}

TEST_CASE("a body that ends when the backend closes arrives whole, framed by Content-Length for the client") {
    FakeBackend backend([](const Seen&) { return kCloseAfter + "HTTP/1.1 200 OK\r\n\r\nuntil the end"; });
    ServerProcess proxy(proxy_spec({&backend}));
    Client client(proxy.port());
    for (int i = 0; i < 2; ++i) {
        client.send(get("/x"));
        Reply reply = client.read_reply();
        CHECK(reply.body == "until the end");
        CHECK(reply.header("Content-Length") == "13");
    }
    CHECK(backend.connections() == 2);  // a connection whose end framed a body cannot carry another
}

TEST_CASE("HEAD, 204 and 304 carry no body, and HEAD keeps the backend's Content-Length") {
    FakeBackend backend([](const Seen& s) {
        if (s.head.rfind("HEAD", 0) == 0) return std::string("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
        if (s.head.find(" /204 ") != std::string::npos) return std::string("HTTP/1.1 204 No Content\r\n\r\n");
        return std::string("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
    });
    ServerProcess proxy(proxy_spec({&backend}));
    Client client(proxy.port());
    client.send(request("HEAD", "/big") + get("/204") + get("/304"));
    Reply head = client.read_reply(true);
    CHECK(head.status == 200);
    CHECK(head.header("Content-Length") == "1234");
    Reply none = client.read_reply();
    CHECK(none.status == 204);
    CHECK(none.header("Content-Length").empty());
    Reply same = client.read_reply();
    CHECK(same.status == 304);
    CHECK(same.header("ETag") == "\"x\"");
    client.send(get("/204"));  // nothing extra was left on the connection
    CHECK(client.read_reply().status == 204);
}

TEST_CASE("an interim 103 goes to the client before the final response") {
    FakeBackend backend([](const Seen&) { return "HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n" + ok("final"); });
    ServerProcess proxy(proxy_spec({&backend}));
    Client client(proxy.port());
    client.send(get("/hints"));
    Reply hints = client.read_reply();
    CHECK(hints.status == 103);
    CHECK(hints.header("Link") == "</style.css>");
    Reply final_reply = client.read_reply();
    CHECK(final_reply.status == 200);
    CHECK(final_reply.body == "final");
}

TEST_CASE("Expect: 100-continue gets 100 Continue before the body is sent, and the backend sees no Expect") {
    FakeBackend backend([](const Seen& s) { return ok(s.body); });
    ServerProcess proxy(proxy_spec({&backend}));
    Client client(proxy.port());
    client.send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    Reply go_on = client.read_reply();
    CHECK(go_on.status == 100);
    client.send("data");
    Reply reply = client.read_reply();
    CHECK(reply.status == 200);
    CHECK(reply.body == "data");
    CHECK(backend.seen().at(0).header("expect").empty());
}

TEST_CASE("pipelined requests are answered in order though their backends answer at different speeds") {
    FakeBackend backend([](const Seen& s) {
        if (s.head.find(" /slow ") != std::string::npos) std::this_thread::sleep_for(300ms);
        return echo_target(s);
    });
    ServerProcess proxy(proxy_spec({&backend}));
    Client client(proxy.port());
    client.send(get("/slow") + get("/fast") + get("/slow") + get("/fast"));
    for (const char* expected : {"/slow", "/fast", "/slow", "/fast"})
        CHECK(client.read_reply().body == std::string("GET ") + expected + " HTTP/1.1");
}

}  // TEST_SUITE

TEST_SUITE("09 proxy: choosing backends") {

TEST_CASE("round-robin spreads requests evenly, and keep-alive reuses one connection to each backend") {
    FakeBackend a([](const Seen&) { return ok("a"); });
    FakeBackend b([](const Seen&) { return ok("b"); });
    ServerProcess proxy(proxy_spec({&a, &b}));
    Client client(proxy.port());
    std::map<std::string, int> answered;
    for (int i = 0; i < 20; ++i) {
        client.send(get("/hello"));
        ++answered[client.read_reply().body];
    }
    CHECK(answered["a"] == 10);
    CHECK(answered["b"] == 10);
    CHECK(a.connections() == 1);
    CHECK(b.connections() == 1);
}

TEST_CASE("with --upstream-keepalive 0 every request opens a connection, and says Connection: close") {
    FakeBackend backend([](const Seen&) { return ok("x"); });
    ServerProcess proxy(proxy_spec({&backend}, {"--upstream-keepalive", "0"}));
    Client client(proxy.port());
    for (int i = 0; i < 5; ++i) {
        client.send(get("/x"));
        CHECK(client.read_reply().status == 200);
    }
    CHECK(backend.connections() == 5);
    CHECK(backend.seen().at(0).header("connection") == "close");
}

TEST_CASE("least-connections sends new requests to the backend that is not busy") {
    FakeBackend slow([](const Seen&) {
        std::this_thread::sleep_for(1500ms);
        return ok("slow");
    });
    FakeBackend quick([](const Seen&) { return ok("quick"); });
    ServerProcess proxy(proxy_spec({&slow, &quick}, {"--balance", "least-conn"}));
    Client first(proxy.port());
    first.send(get("/1"));  // goes to `slow` (first in order), and keeps it busy
    std::this_thread::sleep_for(200ms);
    Client second(proxy.port());
    for (int i = 0; i < 5; ++i) {
        second.send(get("/2"));
        CHECK(second.read_reply().body == "quick");
    }
    CHECK(first.read_reply().body == "slow");
}

TEST_CASE("--route sends a path prefix to its own backend, the longest prefix winning") {
    FakeBackend main_site([](const Seen&) { return ok("main"); });
    FakeBackend statics([](const Seen&) { return ok("static"); });
    FakeBackend images([](const Seen&) { return ok("images"); });
    ServerProcess proxy(proxy_spec({&main_site}, {"--route", "/static/=" + statics.address(), "--route",
                                                  "/static/img/=" + images.address()}));
    Client client(proxy.port());
    for (auto [path, who] : std::vector<std::pair<std::string, std::string>>{
             {"/", "main"}, {"/static/a.css", "static"}, {"/static/img/b.png", "images"}, {"/staticx", "main"}}) {
        client.send(get(path));
        CHECK_MESSAGE(client.read_reply().body == who, path);
    }
}

TEST_CASE("bad proxy flags get a clear message") {
    for (std::vector<std::string> flags : std::vector<std::vector<std::string>>{
             {"--upstream", "nowhere"}, {"--upstream", "127.0.0.1:99999"}, {"--route", "static=127.0.0.1:1"},
             {"--balance", "random"}, {}}) {
        std::string args = "--port 0";
        for (auto& f : flags) args += " '" + f + "'";
        std::string output;
        int status = run_binary(args, output);
        CAPTURE(args);
        CAPTURE(output);
        CHECK(status != 0);
        CHECK(output.find("listening on") == std::string::npos);
        CHECK(output.size() > 10);
        CHECK(printable(output));
    }
}

}  // TEST_SUITE
