// response_parser: an incremental HTTP/1.1 response parser, for a proxy reading its backends.
//
// The request parser's counterpart, with the same habits: the caller owns the bytes, the head comes
// back as views into them, nothing is allocated for it, and how far the parser has looked is
// remembered so a backend that trickles bytes cannot make it rescan. The body is different: it is
// decoded onto the end of the caller's string, and consumed as it goes, so a proxy can pass on a
// long body while it is still arriving.
//
//     ResponseParser parser(request_was_head);        ResponseHead head;
//     ParseResult r = parser.parse_head(in, head);
//     Incomplete -> read more onto the end of `in` and call again
//     Error      -> answer the client 502 (r.why is for the log), close the backend connection
//     Complete   -> drop r.consumed bytes from the front of `in`. An interim response (status
//                   1xx) is over: call parse_head again. Otherwise framing() says how the body comes:
//     BodyStep s = parser.parse_body(in, body);       drop s.consumed bytes; s.done: it is all there
//     The backend closed: end_of_input() says whether the response was whole.
//
// Strict where a lenient reading could frame the body wrongly (RFC 9112 §6.3): Content-Length with
// Transfer-Encoding, disagreeing lengths, malformed chunk framing are errors, never guesses. Line
// ends are CRLF or a bare LF, as in requests (RFC 9112 §2.2); a CR without its LF is an error.
#pragma once

#include "http_parser.hpp"

#include <string>

namespace one::http {

inline constexpr size_t kMaxResponseHead = 64 * 1024;  // status line to blank line; the trailers too

// One response head. Every view points into the buffer given to the parse_head() call that
// returned Complete, so it is valid until the caller changes that buffer.
struct ResponseHead {
    int status = 0;            // 100..599
    int minor_version = 1;     // HTTP/1.0 or HTTP/1.1
    std::string_view reason;   // as sent, perhaps empty
    std::array<Header, kMaxHeaders> header_storage;
    size_t header_count = 0;
    // The backend keeps the connection open after this response: HTTP/1.1 unless Connection: close,
    // HTTP/1.0 only with Connection: keep-alive; never when the body ends with the connection.
    bool keep_alive = true;

    std::span<const Header> headers() const { return {header_storage.data(), header_count}; }
    // The value of the first header called `name` (any case), or an empty view.
    std::string_view header(std::string_view name) const;
};

// How the body after a final head is delimited (RFC 9112 §6.3).
enum class BodyFraming : uint8_t {
    None,        // no body: HEAD request, 1xx, 204, 304
    Length,      // Content-Length bytes (perhaps 0)
    Chunked,     // Transfer-Encoding whose final coding is chunked
    UntilClose,  // everything until the backend closes: no length given, or another final coding
};

struct BodyStep {
    size_t consumed = 0;   // bytes of the buffer used, from its front (on error: before the fault)
    bool done = false;     // the body is complete; bytes after `consumed` are not part of it
    bool error = false;    // the framing is broken: 502, and the connection cannot be reused
    const char* why = "";  // error: a short reason, for logs and tests
};

class ResponseParser {
public:
    // for_head_request: the request was HEAD, so the response has no body whatever its headers say.
    explicit ResponseParser(bool for_head_request = false) : for_head_(for_head_request) {}

    // Looks for a complete head at the front of `buf`. Call again with the same bytes plus those
    // that have arrived since; the buffer may move. Complete: r.consumed is the head's length.
    // Error: r.http_status is 502 and r.why says why. An interim (1xx) head leaves the parser ready
    // for the next head, which the next call must find at the front of its buffer; so does 101,
    // though after it the bytes are another protocol, not a head: the caller decides what to do.
    // Called again after the final head it answers Error, and the parser carries on unharmed.
    ParseResult parse_head(std::span<const char> buf, ResponseHead& out);

    // After a Complete final head: how the body comes, and its length when framing() is Length.
    BodyFraming framing() const { return framing_; }
    uint64_t content_length() const { return content_length_; }

    // Decodes what it can of `buf`, appending body bytes, without any chunk framing, to `body`.
    // `buf` begins with the bytes the previous call did not consume (the head's, after the head),
    // followed by the newer ones: a chunk-size or trailer line cut short is left unconsumed, and
    // the parser remembers how far into it it has already looked. Before the final head: an error.
    BodyStep parse_body(std::span<const char> buf, std::string& body);

    // The backend closed the connection. True if that leaves the response complete: its body runs
    // until close, or was complete already. False if the response was cut short; then the parser
    // has failed, as if by an error.
    bool end_of_input();

private:
    enum class Phase : uint8_t { Head, Length, UntilClose, ChunkSize, ChunkData, ChunkDataEnd, Trailers, Done, Failed };

    const char* find_status_line(std::span<const char> buf, ResponseHead& out);
    size_t find_head_end(std::span<const char> buf);
    ParseResult parse_whole_head(std::string_view head, ResponseHead& out);
    void start_body();
    BodyStep parse_fixed(std::span<const char> buf, std::string& body);
    BodyStep parse_chunked(std::span<const char> buf, std::string& body);
    const char* take_size_line(std::string_view line);
    const char* take_trailer_line(std::string_view line);
    const char* check_unfinished_line(size_t bytes) const;
    void fail(const char* why);
    ParseResult fail_head(const char* why);
    BodyStep fail_body(size_t consumed, const char* why);

    // Offsets, never pointers: the buffer may move between calls.
    bool for_head_;
    Phase phase_ = Phase::Head;
    BodyFraming framing_ = BodyFraming::None;
    uint64_t content_length_ = 0;
    size_t line_end_ = 0;       // head: just past the status line's LF, 0 while it is unknown
    size_t scanned_ = 0;        // head: searched for its end up to here
    size_t line_searched_ = 0;  // body: bytes of the unfinished line at the buffer's front already searched
    uint64_t remaining_ = 0;    // bytes left in the fixed body or the current chunk
    size_t trailer_bytes_ = 0;  // chunked: bytes of the trailer section so far
    const char* why_ = "";      // Failed: the first error, given again by every later call
};

}  // namespace one::http
