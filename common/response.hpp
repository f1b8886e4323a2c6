// response: turns a status, headers and a body into the bytes of an HTTP/1.1 response.
#pragma once

#include <string>
#include <string_view>

namespace one::http {

struct Response {
    int status = 200;
    std::string_view content_type = "text/plain";
    std::string body;                // owned: "Hello, World!" fits in std::string's inline storage
    bool keep_alive = true;          // false adds "Connection: close"; the server closes after writing
    bool head_only = false;          // a HEAD request: every header as for GET, no body bytes
    std::string_view extra_headers;  // complete lines, each ending in "\r\n" (e.g. "Allow: GET\r\n")
};

// "OK", "Not Found", ...; "Unknown" for a status we never send.
std::string_view reason_phrase(int status);

// Appends the response's bytes to `out`. Content-Length is always sent, so keep-alive and
// pipelining work; Date comes from a per-thread cache refreshed once a second.
void append_response(const Response& response, std::string& out);

// A short error response whose body names the reason, sent before closing the connection.
Response error_response(int status, std::string_view why);

// The current time as an IMF-fixdate ("Sun, 22 Nov 2026 06:34:28 GMT"), formatted at most once a
// second per thread: strftime per request would cost more than parsing the request did.
std::string_view http_date();

}  // namespace one::http
