// http_head: the parser's inner step, parsing one complete head. Internal to the parser and its tests.
#pragma once

#include "http_parser.hpp"

namespace one::http {

// How the body that follows the head is delimited.
struct Framing {
    bool chunked = false;
    uint64_t content_length = 0;  // when not chunked; 0 means no body
};

// The outcome of parsing a head: status 0 when it was accepted.
struct HeadResult {
    int status = 0;
    const char* why = "";
    bool refused() const { return status != 0; }
};

// Parses `head`, which holds the request line and header fields up to and including the blank
// line that ends them, into `out` (views into `head`) and `framing`.
HeadResult parse_head(std::string_view head, Request& out, Framing& framing, size_t max_body);

}  // namespace one::http
