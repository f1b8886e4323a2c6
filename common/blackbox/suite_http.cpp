// The shared black-box suite, part 1: HTTP behaviour every chapter's server must have.
// Each test starts the binary under test on an ephemeral port and talks to it over real sockets.
#include "harness.hpp"

#include <doctest/doctest.h>

using namespace one::test;

TEST_SUITE("http") {

TEST_CASE("GET / serves the page naming the chapter") {
    ServerProcess server;
    Reply reply = exchange(server.port(), get("/"));
    CHECK(reply.status == 200);
    CHECK(reply.header("Content-Type") == "text/html; charset=utf-8");
    std::string prefix = "<!doctype html>\n<title>one-loop " + chapter_name() + "</title>\n<h1>one-loop: " +
                         chapter_name() + "</h1>\n<p>";
    std::string suffix = "</p>\n<p>Try /hello, /echo (POST), /sleep?ms=100, /cpu?n=1000000, /status</p>\n";
    CHECK(reply.body.rfind(prefix, 0) == 0);
    CHECK(reply.body.size() > prefix.size() + suffix.size());  // the model's description is not empty
    CHECK(reply.body.substr(reply.body.size() - std::min(reply.body.size(), suffix.size())) == suffix);
}

TEST_CASE("GET /hello serves the benchmark body") {
    ServerProcess server;
    Reply reply = exchange(server.port(), get("/hello"));
    CHECK(reply.status == 200);
    CHECK(reply.version == "HTTP/1.1");
    CHECK(reply.body == "Hello, World!");
    CHECK(reply.header("Content-Length") == "13");
    CHECK(reply.header("Content-Type") == "text/plain");
    CHECK(reply.header("Connection") == "keep-alive");
    CHECK(reply.header("Date").size() == 29);  // "Sun, 22 Nov 2026 06:34:28 GMT"
}

TEST_CASE("HEAD has the GET headers and no body") {
    ServerProcess server;
    Client client(server.port());
    // If HEAD sent a body, its bytes would be read as the start of the next response.
    REQUIRE(client.send(request("HEAD", "/hello") + get("/hello")));
    Reply head = client.read_reply(true);
    CHECK(head.status == 200);
    CHECK(head.header("Content-Length") == "13");
    CHECK(head.body.empty());
    Reply after = client.read_reply();
    CHECK(after.status == 200);
    CHECK(after.body == "Hello, World!");
}

TEST_CASE("100 requests on one connection") {
    ServerProcess server;
    Client client(server.port());
    for (int i = 0; i < 100; ++i) {
        REQUIRE(client.send(get("/hello")));
        Reply reply = client.read_reply();
        REQUIRE(reply.status == 200);
        REQUIRE(reply.body == "Hello, World!");
    }
}

TEST_CASE("10 pipelined requests in one write are answered in order") {
    ServerProcess server;
    Client client(server.port());
    std::string batch;
    for (int i = 0; i < 10; ++i) batch += get("/cpu?n=" + std::to_string(i));
    REQUIRE(client.send(batch));
    for (int i = 0; i < 10; ++i) {
        Reply reply = client.read_reply();
        CHECK(reply.status == 200);
        CHECK(reply.body.rfind("cpu n=" + std::to_string(i) + " ", 0) == 0);
    }
}

TEST_CASE("a request sent one byte at a time") {
    ServerProcess server;
    Client client(server.port());
    for (char byte : request("POST", "/echo", "", "trickled body")) REQUIRE(client.send(std::string(1, byte)));
    Reply reply = client.read_reply();
    CHECK(reply.status == 200);
    CHECK(reply.body == "trickled body");
}

TEST_CASE("POST /echo with Content-Length then a pipelined GET") {
    ServerProcess server;
    Client client(server.port());
    REQUIRE(client.send(request("POST", "/echo", "", "0123456789") + get("/hello")));
    CHECK(client.read_reply().body == "0123456789");
    CHECK(client.read_reply().body == "Hello, World!");  // the body did not leak into the next request
}

TEST_CASE("POST /echo chunked then a pipelined GET") {
    ServerProcess server;
    Client client(server.port());
    std::string chunked = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "5;name=value\r\nHello\r\n8\r\n, chunks\r\n0\r\nTrailer: x\r\n\r\n";
    REQUIRE(client.send(chunked + get("/hello")));
    Reply echo = client.read_reply();
    CHECK(echo.status == 200);
    CHECK(echo.body == "Hello, chunks");
    CHECK(client.read_reply().body == "Hello, World!");
}

TEST_CASE("Connection: close closes after the response") {
    ServerProcess server;
    Client client(server.port());
    REQUIRE(client.send(get("/hello", "Connection: close\r\n")));
    Reply reply = client.read_reply();
    CHECK(reply.status == 200);
    CHECK(reply.header("Connection") == "close");
    CHECK(client.closed_by_server());
}

TEST_CASE("HTTP/1.0 closes unless keep-alive is asked for") {
    ServerProcess server;
    Client plain(server.port());
    REQUIRE(plain.send("GET /hello HTTP/1.0\r\n\r\n"));
    CHECK(plain.read_reply().body == "Hello, World!");
    CHECK(plain.closed_by_server());

    Client keep(server.port());
    REQUIRE(keep.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    Reply first = keep.read_reply();
    CHECK(first.header("Connection") == "keep-alive");
    REQUIRE(keep.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    CHECK(keep.read_reply().body == "Hello, World!");
}

TEST_CASE("an absolute-form target is served by its path") {
    ServerProcess server;
    Reply reply = exchange(server.port(), get("http://example.test:8080/hello?x=1"));
    CHECK(reply.status == 200);
    CHECK(reply.body == "Hello, World!");
}

TEST_CASE("404 and 405 and an unknown method keep the connection open") {
    ServerProcess server;
    Client client(server.port());
    REQUIRE(client.send(get("/no-such-page")));
    CHECK(client.read_reply().status == 404);
    REQUIRE(client.send(request("DELETE", "/hello")));
    Reply not_allowed = client.read_reply();
    CHECK(not_allowed.status == 405);
    CHECK(not_allowed.header("Allow") == "GET, HEAD");
    REQUIRE(client.send(request("BREW", "/hello")));
    CHECK(client.read_reply().status == 501);
    REQUIRE(client.send(get("/hello")));
    CHECK(client.read_reply().body == "Hello, World!");
}

TEST_CASE("a half-closed client still gets its response") {
    ServerProcess server;
    Client client(server.port());
    REQUIRE(client.send(get("/hello")));
    client.shutdown_write();  // "I have nothing more to say" is not "I will not listen"
    CHECK(client.read_reply().body == "Hello, World!");
    CHECK(client.closed_by_server());
}

}  // TEST_SUITE
