// Tests for the response writer: exact bytes, framing headers, the Date cache, HEAD, error responses.
#include "common/response.hpp"

#include <doctest/doctest.h>

#include <cctype>
#include <fcntl.h>
#include <ctime>
#include <map>
#include <string>
#include <vector>

using namespace one::http;
using namespace std::string_literals;

namespace {

// A response taken apart again: status line, header fields by name, body.
struct Written {
    std::string status_line;
    std::map<std::string, std::string> headers;
    std::vector<std::string> header_order;
    std::string body;
};

Written take_apart(const std::string& bytes) {
    Written w;
    size_t head_end = bytes.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    w.body = bytes.substr(head_end + 4);
    std::string head = bytes.substr(0, head_end + 2);
    size_t eol = head.find("\r\n");
    w.status_line = head.substr(0, eol);
    for (size_t at = eol + 2; at < head.size();) {
        size_t end = head.find("\r\n", at);
        std::string line = head.substr(at, end - at);
        size_t colon = line.find(": ");
        REQUIRE(colon != std::string::npos);
        w.headers[line.substr(0, colon)] = line.substr(colon + 2);
        w.header_order.push_back(line.substr(0, colon));
        at = end + 2;
    }
    return w;
}

Written write(const Response& r) {
    std::string out;
    append_response(r, out);
    return take_apart(out);
}

// True when `date` is an IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7). Checked by
// hand: std::regex sets off warnings inside libstdc++ in sanitizer builds, and CI turns them into errors.
bool is_imf_fixdate(std::string_view date) {
    constexpr std::string_view shape = "aaa, 99 aaa 9999 99:99:99 GMT";  // a: part of a name, 9: a digit
    if (date.size() != shape.size()) return false;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == '9' && !std::isdigit(static_cast<unsigned char>(date[i]))) return false;
        if (shape[i] != '9' && shape[i] != 'a' && date[i] != shape[i]) return false;
    }
    auto one_of = [](std::string_view names, std::string_view name) {
        size_t at = names.find(name);
        return at != std::string_view::npos && at % 4 == 0;
    };
    return one_of("Mon Tue Wed Thu Fri Sat Sun", date.substr(0, 3)) &&
           one_of("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", date.substr(8, 3)) && date.substr(17, 2) < "24" &&
           date.substr(20, 2) < "60" && date.substr(23, 2) < "60";
}

Response hello() {
    Response r;
    r.body = "Hello, World!";
    return r;
}

}  // namespace

TEST_SUITE("response") {

TEST_CASE("a 200: the exact bytes") {
    std::string out;
    append_response(hello(), out);
    std::string date = take_apart(out).headers["Date"];  // the one part that changes every second
    CHECK(out ==
          "HTTP/1.1 200 OK\r\nServer: one-loop\r\nDate: " + date +
              "\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, World!");
}

TEST_CASE("Content-Length is the body's size, whatever bytes it holds") {
    Response r;
    r.body = "a\0b\r\n\r\nc"s;
    Written w = write(r);
    CHECK(w.headers["Content-Length"] == "8");
    CHECK(w.body == r.body);

    r.body.clear();
    CHECK(write(r).headers["Content-Length"] == "0");
    CHECK(write(r).body.empty());

    r.body.assign(1 << 20, 'x');
    CHECK(write(r).headers["Content-Length"] == "1048576");
}

TEST_CASE("a file body: Content-Length is the range's, and the head is all that is appended") {
    Response r;
    r.file = {one::Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)), 100, 5000};
    REQUIRE(r.file);
    Written w = write(r);
    CHECK(w.headers["Content-Length"] == "5000");
    CHECK(w.body.empty());  // the connection sends the file after the head
    CHECK(content_length(r) == 5000);
    CHECK(sends_body(r));
    r.head_only = true;
    CHECK_FALSE(sends_body(r));
}

TEST_CASE("a 304 describes no body: no Content-Length, no Content-Type, no bytes") {
    Response r = hello();
    r.status = 304;
    r.extra_headers = "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
    Written w = write(r);
    CHECK(w.status_line == "HTTP/1.1 304 Not Modified");
    CHECK(w.headers.count("Content-Length") == 0);
    CHECK(w.headers.count("Content-Type") == 0);
    CHECK(w.headers["Last-Modified"] == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(w.body.empty());
    CHECK_FALSE(sends_body(r));
}

TEST_CASE("Connection: keep-alive or close, as the response says") {
    Response r = hello();
    CHECK(write(r).headers["Connection"] == "keep-alive");
    r.keep_alive = false;
    CHECK(write(r).headers["Connection"] == "close");
}

TEST_CASE("content type and extra header lines go in the head") {
    Response r = hello();
    r.status = 405;
    r.content_type = "text/html; charset=utf-8";
    r.extra_headers = "Allow: GET, HEAD\r\nX-Two: 2\r\n";
    Written w = write(r);
    CHECK(w.status_line == "HTTP/1.1 405 Method Not Allowed");
    CHECK(w.headers["Content-Type"] == "text/html; charset=utf-8");
    CHECK(w.headers["Allow"] == "GET, HEAD");
    CHECK(w.headers["X-Two"] == "2");
    CHECK(w.header_order.back() == "X-Two");
    CHECK(w.body == "Hello, World!");
}

TEST_CASE("HEAD: every header as for GET, Content-Length included, and no body") {
    Response get = hello();
    Response head = hello();
    head.head_only = true;
    std::string get_bytes, head_bytes;
    append_response(get, get_bytes);
    append_response(head, head_bytes);
    Written w = take_apart(head_bytes);
    CHECK(w.headers["Content-Length"] == "13");
    CHECK(w.body.empty());
    CHECK(head_bytes.ends_with("\r\n\r\n"));
    std::map<std::string, std::string> get_headers = take_apart(get_bytes).headers;
    get_headers.erase("Date");  // the clock may have turned a second between the two
    w.headers.erase("Date");
    CHECK(w.headers == get_headers);
}

TEST_CASE("append_response appends: pipelined responses follow each other in one buffer") {
    std::string out = "earlier bytes";
    append_response(hello(), out);
    Response second = hello();
    second.body = "two";
    append_response(second, out);
    CHECK(out.starts_with("earlier bytesHTTP/1.1 200 OK\r\n"));
    size_t next = out.find("Hello, World!HTTP/1.1 200 OK\r\n");
    REQUIRE(next != std::string::npos);
    CHECK(out.ends_with("\r\n\r\ntwo"));
}

TEST_CASE("Date is an IMF-fixdate, 29 characters, in GMT") {
    std::string date(http_date());
    CHECK(date.size() == 29);
    CHECK_MESSAGE(is_imf_fixdate(date), date);
    CHECK(is_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"));  // the checker itself, on RFC 9110's example
    CHECK_FALSE(is_imf_fixdate("Sun, 6 Nov 1994 08:49:37 GMT"));
    CHECK_FALSE(is_imf_fixdate("Sun, 06 Nov 1994 08:49:37 UTC"));
    CHECK_FALSE(is_imf_fixdate("Sunday, 06-Nov-94 08:49:37 GMT"));
    CHECK_FALSE(is_imf_fixdate("Sun, 06 Nov 1994 24:49:37 GMT"));
    CHECK_FALSE(is_imf_fixdate("Sux, 06 Nov 1994 08:49:37 GMT"));
    CHECK_FALSE(is_imf_fixdate("Sun, 06 nov 1994 08:49:37 GMT"));
    CHECK(write(hello()).headers["Date"].size() == 29);

    // It names the current time, in GMT rather than local time, and the weekday fits the date.
    tm parts{};
    REQUIRE(strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parts) != nullptr);
    int weekday = parts.tm_wday;
    time_t said = timegm(&parts);
    CHECK(parts.tm_wday == weekday);  // timegm recomputes the weekday from the date
    time_t now = time(nullptr);
    CHECK(said <= now);
    CHECK(said >= now - 60);  // not a timing check: only that this is the clock, and not local time
}

TEST_CASE("a reason phrase for every status the servers send") {
    const std::pair<int, const char*> phrases[] = {
        {200, "OK"},
        {204, "No Content"},
        {206, "Partial Content"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {416, "Range Not Satisfiable"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
        {505, "HTTP Version Not Supported"},
    };
    for (auto [status, phrase] : phrases) {
        CAPTURE(status);
        CHECK(reason_phrase(status) == phrase);
        Response r;
        r.status = status;
        CHECK(write(r).status_line == "HTTP/1.1 " + std::to_string(status) + " " + phrase);
    }
    CHECK(reason_phrase(299) == "Unknown");
    CHECK(reason_phrase(0) == "Unknown");
}

TEST_CASE("error_response: a short body naming the reason, and the connection closes") {
    Response r = error_response(413, "body larger than the limit");
    CHECK(r.status == 413);
    CHECK_FALSE(r.keep_alive);
    CHECK_FALSE(r.head_only);
    CHECK(r.body == "413 Content Too Large: body larger than the limit\n");
    Written w = write(r);
    CHECK(w.status_line == "HTTP/1.1 413 Content Too Large");
    CHECK(w.headers["Connection"] == "close");
    CHECK(w.headers["Content-Length"] == std::to_string(r.body.size()));
    CHECK(w.body == r.body);
    for (int status : {400, 408, 414, 431, 501, 505}) {
        CAPTURE(status);
        CHECK_FALSE(error_response(status, "x").keep_alive);
        CHECK(error_response(status, "x").body.starts_with(std::to_string(status) + " " + std::string(reason_phrase(status))));
    }
}

}  // TEST_SUITE("response")
