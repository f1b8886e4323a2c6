// forward: what a proxy changes in a message as it passes it on (RFC 9110 §7.6).
//
// A proxy holds two connections, and some header fields are about one connection only: they stop
// here, and the next hop gets its own. These hop-by-hop fields are Connection and every field it
// names, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding and Upgrade. The body is framed anew
// (Content-Length, whatever framing it came with), and an Expect: 100-continue was answered here.
//
// What the proxy adds, so the backend still knows who asked, and how:
//   X-Forwarded-For    the client's address, after any the request already carried
//   X-Forwarded-Proto  "http": the scheme the client used (chapter 11's TLS says "https")
//   Via                "1.1 one-loop": this hop, after any before it (in responses too)
#pragma once

#include "common/http_parser.hpp"
#include "common/response_parser.hpp"

#include <charconv>
#include <string>
#include <string_view>

namespace one::proxy {

inline constexpr std::string_view kVia = "one-loop";

// True for a field that belongs to one connection, not to the message.
inline bool is_hop_by_hop(std::string_view name) {
    for (std::string_view hop : {"connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade"})
        if (http::iequals(name, hop)) return true;
    return false;
}

// True when `name` is listed in any Connection field of `headers`: "Connection: close, X-Trace"
// makes X-Trace hop-by-hop too.
inline bool named_by_connection(std::span<const http::Header> headers, std::string_view name) {
    for (const http::Header& h : headers)
        if (http::iequals(h.name, "connection") && http::has_token(h.value, name)) return true;
    return false;
}

inline bool stays_here(std::span<const http::Header> headers, std::string_view name) {
    return is_hop_by_hop(name) || named_by_connection(headers, name);
}

inline void append_field(std::string& out, std::string_view name, std::string_view value) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
}

// Every value of the fields called `name`, joined with ", " (how a list-valued field is merged).
inline std::string joined(std::span<const http::Header> headers, std::string_view name) {
    std::string all;
    for (const http::Header& h : headers)
        if (http::iequals(h.name, name) && !h.value.empty()) all += (all.empty() ? "" : ", ") + std::string(h.value);
    return all;
}

// The request as the backend gets it: origin-form target, Host kept, hop-by-hop fields dropped,
// who-asked fields added, the body framed by Content-Length. `keep_alive`: whether this proxy
// means to reuse the connection to the backend afterwards.
inline void append_upstream_request(const http::Request& r, std::string_view client_address, std::string_view backend,
                                    bool keep_alive, std::string& out) {
    std::span<const http::Header> headers = r.headers();
    out += r.method;
    out += ' ';
    if (r.target.empty() || r.target[0] == '/' || r.target == "*") {
        out += r.target;
    } else {  // absolute-form ("http://host/path?q"): the host goes in Host, the rest is the target
        out += r.path.empty() ? "/" : r.path;
        if (!r.query.empty()) (out += '?') += r.query;
    }
    out += " HTTP/1.1\r\n";
    append_field(out, "Host", r.host.empty() ? backend : r.host);  // an HTTP/1.0 request may have none
    for (const http::Header& h : headers) {
        if (stays_here(headers, h.name)) continue;
        for (std::string_view ours : {"host", "content-length", "expect", "x-forwarded-for", "x-forwarded-proto", "via"})
            if (http::iequals(h.name, ours)) goto next;
        append_field(out, h.name, h.value);
    next:;
    }
    std::string forwarded_for = joined(headers, "x-forwarded-for");
    append_field(out, "X-Forwarded-For", forwarded_for.empty() ? std::string(client_address)
                                                               : forwarded_for + ", " + std::string(client_address));
    append_field(out, "X-Forwarded-Proto", "http");
    std::string via = joined(headers, "via");
    std::string hop = (r.minor_version == 0 ? "1.0 " : "1.1 ") + std::string(kVia);
    append_field(out, "Via", via.empty() ? hop : via + ", " + hop);
    if (!keep_alive) append_field(out, "Connection", "close");
    // A body, or a method whose requests are expected to carry one: the backend must know where it ends.
    if (!r.body.empty() || !r.header("content-length").empty() || r.chunked) {
        char digits[24];
        append_field(out, "Content-Length", {digits, std::to_chars(digits, digits + sizeof digits, r.body.size()).ptr});
    }
    out += "\r\n";
    out += r.body;
}

// The backend's response fields the client gets, as complete lines: hop-by-hop fields dropped, and
// those this proxy writes itself (Content-Length and Content-Type are set from the response,
// Server and Date are the proxy's own, as nginx does), Via extended.
inline std::string client_response_fields(const http::ResponseHead& head) {
    std::span<const http::Header> headers = head.headers();
    std::string out;
    for (const http::Header& h : headers) {
        if (stays_here(headers, h.name)) continue;
        for (std::string_view ours : {"content-length", "server", "date", "via"})
            if (http::iequals(h.name, ours)) goto next;
        append_field(out, h.name, h.value);
    next:;
    }
    std::string via = joined(headers, "via");
    std::string hop = (head.minor_version == 0 ? "1.0 " : "1.1 ") + std::string(kVia);
    append_field(out, "Via", via.empty() ? hop : via + ", " + hop);
    return out;
}

}  // namespace one::proxy
