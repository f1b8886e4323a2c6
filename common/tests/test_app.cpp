// Tests for the shared application: every route, its refusals, HEAD and keep-alive, query_param.
#include "common/app.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace one;

namespace {

// A request as the parser would hand it over; only the fields the app reads.
http::Request request(std::string_view method, std::string_view path, std::string_view query = {},
                      std::string_view body = {}) {
    http::Request r;
    r.method = method;
    r.target = path;
    r.path = path;
    r.query = query;
    r.body = body;
    r.host = "localhost";
    return r;
}

const App app("05-epoll", "one thread, epoll, non-blocking sockets");

std::string header_lines(const http::Response& r) { return std::string(r.extra_headers); }

}  // namespace

TEST_SUITE("app") {

TEST_CASE("/hello answers the plaintext benchmark body, byte for byte") {
    http::Response r = app.handle(request("GET", "/hello"));
    CHECK(r.status == 200);
    CHECK(r.body == "Hello, World!");
    CHECK(r.content_type == "text/plain");
    CHECK(r.keep_alive);
    CHECK_FALSE(r.head_only);
    CHECK(app.handle(request("GET", "/hello", "ignored=1")).body == "Hello, World!");
}

TEST_CASE("/ is a small HTML page naming the chapter and its model") {
    http::Response r = app.handle(request("GET", "/"));
    CHECK(r.status == 200);
    CHECK(r.content_type == "text/html; charset=utf-8");
    CHECK(r.body.starts_with("<!doctype html>"));
    CHECK(r.body.find("05-epoll") != std::string::npos);
    CHECK(r.body.find("one thread, epoll, non-blocking sockets") != std::string::npos);
    CHECK(App("01-blocking", "m").handle(request("GET", "/")).body.find("01-blocking") != std::string::npos);
}

TEST_CASE("/echo returns the body, for POST and PUT") {
    http::Response r = app.handle(request("POST", "/echo", {}, "hello world"));
    CHECK(r.status == 200);
    CHECK(r.body == "hello world");
    CHECK(r.content_type == "application/octet-stream");
    std::string binary("a\0b\r\n", 5);
    CHECK(app.handle(request("PUT", "/echo", {}, binary)).body == binary);
    CHECK(app.handle(request("POST", "/echo")).body.empty());
}

TEST_CASE("an unknown path is 404") {
    CHECK(app.handle(request("GET", "/nope")).status == 404);
    CHECK(app.handle(request("GET", "/hello/")).status == 404);
    CHECK(app.handle(request("GET", "/HELLO")).status == 404);
    CHECK(app.handle(request("POST", "/nope")).status == 404);
}

TEST_CASE("a known path with the wrong method is 405 with an Allow header") {
    http::Response r = app.handle(request("POST", "/hello"));
    CHECK(r.status == 405);
    CHECK(header_lines(r) == "Allow: GET, HEAD\r\n");
    CHECK(app.handle(request("DELETE", "/")).status == 405);
    CHECK(header_lines(app.handle(request("PUT", "/sleep", "ms=0"))) == "Allow: GET, HEAD\r\n");
    CHECK(header_lines(app.handle(request("POST", "/cpu", "n=1"))) == "Allow: GET, HEAD\r\n");
    r = app.handle(request("GET", "/echo"));
    CHECK(r.status == 405);
    CHECK(header_lines(r) == "Allow: POST, PUT\r\n");
    CHECK(app.handle(request("HEAD", "/echo")).status == 405);
}

TEST_CASE("a method we do not know at all is 501, whatever the path") {
    CHECK(app.handle(request("FOO", "/hello")).status == 501);
    CHECK(app.handle(request("BREW", "/nope")).status == 501);
    CHECK(app.handle(request("get", "/hello")).status == 501);  // methods are case-sensitive
    for (const char* known : {"OPTIONS", "PATCH", "TRACE", "CONNECT"}) {
        CAPTURE(known);
        CHECK(app.handle(request(known, "/hello")).status == 405);
    }
}

TEST_CASE("/sleep?ms=N takes a whole number in 0..10000") {
    http::Response r = app.handle(request("GET", "/sleep", "ms=0"));
    CHECK(r.status == 200);
    CHECK(r.body == "slept 0 ms\n");
    CHECK(app.handle(request("GET", "/sleep", "x=1&ms=1")).status == 200);
    for (const char* query : {"", "ms", "ms=", "ms=abc", "ms=-1", "ms=+1", "ms=1x", "ms= 1", "ms=1.5", "ms=10001",
                              "ms=99999999999999999999999", "MS=1", "m=1"}) {
        CAPTURE(query);
        r = app.handle(request("GET", "/sleep", query));
        CHECK(r.status == 400);
        CHECK(r.body.find("/sleep?ms=N") != std::string::npos);
    }
}

TEST_CASE("/cpu?n=N takes a whole number in 0..100000000 and does the work") {
    http::Response r = app.handle(request("GET", "/cpu", "n=10"));
    CHECK(r.status == 200);
    CHECK(r.body.starts_with("cpu n=10 result="));
    CHECK(app.handle(request("GET", "/cpu", "n=10")).body == r.body);  // deterministic
    CHECK(app.handle(request("GET", "/cpu", "n=11")).body != r.body);   // and not skipped
    CHECK(app.handle(request("GET", "/cpu", "n=0")).body == "cpu n=0 result=88172645463325252\n");
    for (const char* query : {"", "n=", "n=abc", "n=-1", "n=100000001", "n=1e3", "n=18446744073709551616"}) {
        CAPTURE(query);
        r = app.handle(request("GET", "/cpu", query));
        CHECK(r.status == 400);
        CHECK(r.body.find("/cpu?n=N") != std::string::npos);
    }
}

TEST_CASE("HEAD is GET without the body bytes: the body stays, so Content-Length is right") {
    http::Response r = app.handle(request("HEAD", "/hello"));
    CHECK(r.status == 200);
    CHECK(r.head_only);
    CHECK(r.body == "Hello, World!");
    std::string bytes;
    http::append_response(r, bytes);
    CHECK(bytes.find("Content-Length: 13\r\n") != std::string::npos);
    CHECK(bytes.ends_with("\r\n\r\n"));
    CHECK(app.handle(request("HEAD", "/")).head_only);
    CHECK(app.handle(request("HEAD", "/nope")).head_only);
    CHECK_FALSE(app.handle(request("GET", "/hello")).head_only);
}

TEST_CASE("keep-alive follows the request") {
    http::Request req = request("GET", "/hello");
    req.keep_alive = false;
    CHECK_FALSE(app.handle(req).keep_alive);
    req.keep_alive = true;
    CHECK(app.handle(req).keep_alive);
    http::Request bad = request("FOO", "/");
    bad.keep_alive = false;
    CHECK_FALSE(app.handle(bad).keep_alive);  // even for a refusal
    bad = request("GET", "/nope");
    CHECK(app.handle(bad).keep_alive);  // a 404 does not need to close
}

TEST_CASE("query_param finds a key's value") {
    std::string_view value = "unchanged";
    CHECK(query_param("a=1&b=2", "b", value));
    CHECK(value == "2");
    CHECK(query_param("a=1&b=2", "a", value));
    CHECK(value == "1");
    CHECK(query_param("a=1&a=2", "a", value));
    CHECK(value == "1");  // the first one
    CHECK(query_param("flag&x=1", "flag", value));
    CHECK(value.empty());  // present without "="
    CHECK(query_param("k=", "k", value));
    CHECK(value.empty());
    CHECK(query_param("&&k=v&", "k", value));
    CHECK(value == "v");
    CHECK(query_param("k=a=b", "k", value));
    CHECK(value == "a=b");

    value = "unchanged";
    CHECK_FALSE(query_param("", "k", value));
    CHECK_FALSE(query_param("kk=1", "k", value));
    CHECK_FALSE(query_param("k1=1", "k", value));
    CHECK_FALSE(query_param("x=k", "k", value));
    CHECK_FALSE(query_param("K=1", "k", value));
    CHECK(value == "unchanged");  // untouched when absent
}

}  // TEST_SUITE("app")
