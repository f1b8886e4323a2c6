// http_parser: an incremental HTTP/1.1 request parser that never allocates.
//
// Shaped after picohttpparser: the caller owns the bytes, the parser hands back views into them,
// and it remembers how far it has looked so a client that trickles bytes cannot make it rescan
// what it already saw. Unlike picohttpparser it also frames the body (Content-Length or chunked,
// decoded in place), so one call answers the only question a server loop asks:
// "is there a whole request at the front of my buffer, and how many bytes is it?"
//
//     RequestParser parser;            Request request;
//     ParseResult r = parser.parse(buffer, request);
//     Incomplete -> read more bytes onto the end of `buffer` and call again
//     Complete   -> serve `request`, drop r.consumed bytes from the front, parser.reset()
//     Error      -> answer r.status (400, 413, 414, 431, 501, 505), then close
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace one::http {

struct Framing;  // how a body is delimited (http_head.hpp)

// Limits, with the status a client gets for crossing each.
inline constexpr size_t kMaxRequestLine = 8 * 1024;   // 414 URI Too Long
inline constexpr size_t kMaxHeaderBytes = 16 * 1024;  // 431 Request Header Fields Too Large
inline constexpr size_t kMaxHeaders = 100;            // 431
inline constexpr size_t kDefaultMaxBody = 1 << 20;    // 413 Content Too Large (configurable)
inline constexpr size_t kMaxChunkLine = 1024;         // 400: a chunk-size line with absurd extensions

struct Header {
    std::string_view name;   // as sent; compare with iequals()
    std::string_view value;  // leading and trailing whitespace removed
};

// One parsed request. Every view points into the buffer given to the parse() call that returned
// Complete, so it is valid until the caller changes that buffer.
struct Request {
    std::string_view method;  // "GET"; case matters in HTTP
    std::string_view target;  // as sent: "/echo?x=1" or "http://host/echo?x=1"
    std::string_view path;    // target without scheme, authority and query: "/echo"
    std::string_view query;   // after '?', without it: "x=1"
    std::string_view host;    // authority of an absolute-form target, else the Host header
    int minor_version = 1;    // HTTP/1.0 or HTTP/1.1
    bool keep_alive = true;   // after the HTTP/1.0 and 1.1 rules and the Connection header
    bool chunked = false;     // the body came with Transfer-Encoding: chunked
    std::string_view body;    // the body, decoded; empty when there is none
    std::array<Header, kMaxHeaders> header_storage;
    size_t header_count = 0;

    std::span<const Header> headers() const { return {header_storage.data(), header_count}; }
    // The value of the first header called `name` (any case), or an empty view.
    std::string_view header(std::string_view name) const;
};

enum class ParseStatus { Incomplete, Complete, Error };

struct ParseResult {
    ParseStatus status = ParseStatus::Incomplete;
    size_t consumed = 0;       // Complete: bytes of this request, from the buffer's front
    int http_status = 0;       // Error: the status to answer with
    const char* why = "";      // Error: a short reason, for logs and tests

    bool incomplete() const { return status == ParseStatus::Incomplete; }
    bool complete() const { return status == ParseStatus::Complete; }
    bool error() const { return status == ParseStatus::Error; }
};

class RequestParser {
public:
    explicit RequestParser(size_t max_body = kDefaultMaxBody) : max_body_(max_body) {}

    // Looks for one request at the front of `buf`: all bytes received since the previous request
    // ended, perhaps followed by the next ones (pipelining). Call again with the same bytes plus
    // whatever has arrived since; the buffer may have moved, but the bytes before its end must be
    // left as they are, because a chunked body is decoded in place.
    ParseResult parse(std::span<char> buf, Request& out);

    // Forgets the request just parsed, ready for the next one. The limit on bodies stays.
    void reset() { *this = RequestParser(max_body_); }

    // True once any byte of a request has been seen (leading blank lines do not count):
    // a server timing out a slow client answers 408 then, and closes silently before.
    bool started() const { return phase_ != Phase::Head || line_end_ != 0 || scanned_ > start_; }

    // True once the whole head (request line and header fields) has arrived; the body may not have.
    bool head_done() const { return phase_ != Phase::Head; }

private:
    enum class Phase : uint8_t { Head, FixedBody, ChunkSize, ChunkData, ChunkDataEnd, Trailers, Done, Failed };

    ParseResult scan_head(std::span<char> buf, Request& out);
    bool parse_whole_head(std::span<char> buf, Request& out);
    void head_parsed(const Framing& framing);
    ParseResult scan_chunked(std::span<char> buf);
    ParseResult finish(std::span<char> buf, Request& out);
    ParseResult fail(int status, const char* why);

    // Offsets into the buffer, never pointers: the buffer may move between calls.
    size_t max_body_;
    size_t start_ = 0;        // where the request line begins (blank lines before it are skipped)
    size_t scanned_ = 0;      // the head has been searched for its end up to here
    size_t line_end_ = 0;     // offset just past the request line, 0 while unknown
    size_t head_end_ = 0;     // offset just past the blank line that ends the head
    size_t raw_ = 0;          // chunked: next encoded byte to look at
    size_t decoded_end_ = 0;  // chunked: end of the decoded body, which grows from head_end_
    uint64_t remaining_ = 0;  // bytes left in the fixed body or the current chunk
    size_t line_start_ = 0;   // chunked: where the current trailer line began
    Phase phase_ = Phase::Head;
    ParseResult failure_{};
};

// ASCII case-insensitive comparison, as header names and some values need. Inline: every request
// compares a few header names, and a call costs more than comparing "Host".
inline bool iequals(std::string_view a, std::string_view b) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; };
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// True when the comma-separated `list` holds `token` (any case): Connection: keep-alive, Upgrade.
bool has_token(std::string_view list, std::string_view token);

}  // namespace one::http
