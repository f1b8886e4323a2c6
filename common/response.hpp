// response: turns a status, headers and a body into the bytes of an HTTP/1.1 response.
// A body is bytes in memory, or a range of an open file that the connection sends after the
// head (chapter 07): the head is written here, the file's bytes never pass through this code.
#pragma once

#include "status.hpp"
#include "sys.hpp"

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace one::http {

// A body that stays in a file: `length` bytes of `fd` from `offset`. The Fd closes the file when
// the response (or the connection that took the range over) is done with it.
struct FileBody {
    Fd fd;
    off_t offset = 0;
    size_t length = 0;
    size_t cached = 0;  // chapter 08: bytes from `offset` known to be in the page cache (send_file.hpp)
    explicit operator bool() const { return static_cast<bool>(fd); }
};

// Chapter 09: a body that is still arriving while it is sent (a backend's response too long for
// the proxy to hold). The connection pulls the next piece whenever its socket has room.
class BodyStream {
public:
    enum class Pull : uint8_t {
        More,    // appended some bytes; more will come
        Wait,    // appended nothing; EventServer::job_done() will say when there is more
        End,     // appended the last bytes (perhaps none): the body is complete
        Broken,  // the body will never be complete (the backend failed): close the connection
    };
    virtual ~BodyStream() = default;  // also how the body's source learns that the client has gone
    virtual Pull pull(std::string& out) = 0;
};

struct Response {
    int status = 200;
    std::string_view content_type = "text/plain";  // empty: no Content-Type (a proxy passes the backend's in extra_headers)
    std::string body;                // owned: "Hello, World!" fits in std::string's inline storage
    FileBody file;                   // when open, the body is this file range and `body` is empty
    bool keep_alive = true;          // false adds "Connection: close"; the server closes after writing
    bool head_only = false;          // a HEAD request: every header as for GET, no body bytes
    std::string extra_headers;       // complete lines, each ending in "\r\n" (e.g. "Allow: GET\r\n")
    // Chapter 09 passes on what a backend said, which our own tables cannot know:
    std::string reason;              // the status line's reason phrase; empty: ours for `status`
    std::string interim;             // complete 1xx responses (e.g. 103 Early Hints), sent before this one
    std::unique_ptr<BodyStream> stream;   // when set, the body comes from here, after `body`
    std::optional<uint64_t> declared_length;  // Content-Length when not `body`'s nor `file`'s (HEAD, a stream)
    bool chunked = false;            // a stream of unknown length to an HTTP/1.1 client: already chunk-framed
};

// What Content-Length says: the body's length wherever the body is; nothing for a stream of
// unknown length (then Transfer-Encoding: chunked, or the end of the connection, ends it).
inline std::optional<uint64_t> content_length(const Response& r) {
    if (r.declared_length) return r.declared_length;
    if (r.stream) return std::nullopt;
    return r.file ? r.file.length : r.body.size();
}

// True when the response's bytes go on after its head: not for HEAD, and never for 304, which
// only says "the copy you have is still good", nor 204, which says there is nothing.
inline bool sends_body(const Response& r) { return !r.head_only && r.status != 304 && r.status != 204; }

// "OK", "Not Found", ...; "Unknown" for a status we never send.
std::string_view reason_phrase(int status);

// Appends the response's bytes to `out`: the head, then the body if it is in memory (a file body
// is the caller's to send). Content-Length is always sent, so keep-alive and pipelining work, except
// on a 304, which has no body to describe; Date comes from a per-thread cache refreshed once a second.
void append_response(const Response& response, std::string& out);

// A short error response whose body names the reason, sent before closing the connection. It is
// counted for /status as a refusal: under `reason`, or else by its status (status.hpp).
Response error_response(int status, std::string_view why, std::optional<status::Refusal> reason = std::nullopt);

// The current time as an IMF-fixdate ("Sun, 22 Nov 2026 06:34:28 GMT"), formatted at most once a
// second per thread: strftime per request would cost more than parsing the request did.
std::string_view http_date();

// `when` as an IMF-fixdate, for Last-Modified.
std::string format_http_date(time_t when);

}  // namespace one::http
