// http_head: the parser's inner step, parsing one complete head. Internal to the parser and its tests.
#pragma once

#include "http_parser.hpp"

namespace one::http {

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

}  // namespace one::http
