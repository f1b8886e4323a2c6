// http_head: the parser's inner step, parsing one complete head. Internal to the parsers and their
// tests: the request parser uses all of it, the response parser the pieces about header fields.
#pragma once

#include "http_parser.hpp"

namespace one::http {

// A byte table: letters, digits, and the characters of `others`.
constexpr std::array<bool, 256> alnum_and(std::string_view others) {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
    for (char c : others) t[static_cast<unsigned char>(c)] = true;
    return t;
}

// tchar from RFC 9110 §5.6.2: what a method or a header name may contain.
inline constexpr auto kToken = alnum_and("!#$%&'*+-.^_`|~");

// What a field value (or a reason phrase) may hold: visible ASCII, space, tab, and obs-text (bytes
// >= 0x80). NUL, CR, LF and the other control bytes may not: they are how requests get smuggled.
constexpr std::array<bool, 256> make_value_table() {
    std::array<bool, 256> t{};
    t['\t'] = true;
    for (int c = 0x20; c < 0x7f; ++c) t[c] = true;
    for (int c = 0x80; c < 0x100; ++c) t[c] = true;
    return t;
}
inline constexpr auto kFieldValue = make_value_table();

// How the body that follows the head is delimited.
struct Framing {
    bool chunked = false;
    uint64_t content_length = 0;  // when not chunked; 0 means no body
};

inline constexpr int kIncomplete = -1;  // HeadResult::status when the bytes end before the blank line

// The outcome of parsing a head: status 0 when it was accepted.
struct HeadResult {
    int status = 0;
    const char* why = "";
    bool refused() const { return status > 0; }
    bool incomplete() const { return status == kIncomplete; }
};

// Where the parts of a parsed head end, as offsets from its first byte.
struct HeadShape {
    size_t line_end = 0;  // just past the request line's end of line
    size_t head_end = 0;  // just past the blank line
};

// Parses the head at the start of `bytes` (request line, header fields, blank line) into `out`
// (views into `bytes`) and `framing`. Bytes after the head are not looked at. If `bytes` ends
// before the blank line the result is incomplete, or a refusal if one was already certain.
HeadResult parse_head(std::string_view bytes, Request& out, Framing& framing, size_t max_body, HeadShape* shape = nullptr);

// The pieces of parse_head that a response's head needs too. Refusals carry status 400 (501 is
// the request parser's own); the response parser turns every one into a 502.

// One "Name: value" line at the front of `bytes`, through its CRLF or LF: a token name, the colon
// right after it, the value without surrounding whitespace. Refused: obs-fold (a line that begins
// with SP or HT), space before the colon, a bare CR, control bytes. `used`: how far it got.
HeadResult parse_field_line(std::string_view bytes, Header& h, size_t& used);

// A Content-Length value: digits only, at most 18 (so no overflow). A list ("5, 5"), or a second
// field (`seen` already true), only if every entry agrees with `length`.
HeadResult parse_content_length(std::string_view value, bool& seen, uint64_t& length);

// The transfer codings named so far by Transfer-Encoding fields, in order.
struct TransferCodings {
    int count = 0;                 // codings listed, empty list elements not counted
    int chunked = 0;               // how many of them are "chunked" (any case)
    bool last_is_chunked = false;  // the final coding is chunked, which alone delimits a body
};
void add_transfer_codings(std::string_view value, TransferCodings& codings);

}  // namespace one::http
