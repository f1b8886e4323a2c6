// http_head: parses a complete request head (request line and header fields) into views, and
// decides how the body is framed. It runs once per request, on bytes already known to end in a
// blank line, so it never has to ask for more input.
#include "http_head.hpp"

#include <cctype>

namespace one::http {
namespace {

// tchar from RFC 9110 §5.6.2: what a method or a header name may contain.
constexpr std::array<bool, 256> make_token_table() {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
    for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
    return t;
}
constexpr auto kToken = make_token_table();

// What a field value may hold: visible ASCII, space, tab, and obs-text (bytes >= 0x80).
// NUL, CR, LF and the other control bytes may not: they are how requests get smuggled.
constexpr std::array<bool, 256> make_value_table() {
    std::array<bool, 256> t{};
    t['\t'] = true;
    for (int c = 0x20; c < 0x7f; ++c) t[c] = true;
    for (int c = 0x80; c < 0x100; ++c) t[c] = true;
    return t;
}
constexpr auto kFieldValue = make_value_table();

bool is_token_char(char c) { return kToken[static_cast<unsigned char>(c)]; }
// A request target may hold any visible byte; control bytes and spaces end or break it.
bool is_target_char(char c) { return static_cast<unsigned char>(c) > 0x20 && c != 0x7f; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Cuts `line` at its end of line: CRLF, or a bare LF (accepted, as nginx does; RFC 9112 §2.2 allows it).
// A CR anywhere else is refused by the callers' character checks.
std::string_view next_line(std::string_view& rest) {
    size_t lf = rest.find('\n');  // the head ends in a blank line, so there is always one
    std::string_view line = rest.substr(0, lf);
    rest.remove_prefix(lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

HeadResult refuse(int status, const char* why) { return {status, why}; }

HeadResult parse_version(std::string_view v, Request& out) {
    // "HTTP/" DIGIT "." DIGIT; anything else is not HTTP at all.
    if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.' || !std::isdigit((unsigned char)v[5]) ||
        !std::isdigit((unsigned char)v[7]))
        return refuse(400, "malformed HTTP version");
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return refuse(505, "HTTP version not supported");
    out.minor_version = v[7] - '0';
    return {};
}

// Splits the target into path and query; an absolute-form target also names the host.
HeadResult parse_target(std::string_view target, Request& out) {
    std::string_view rest = target;
    if (target.front() != '/') {
        size_t scheme_end = target.find("://");
        std::string_view scheme = target.substr(0, scheme_end);
        if (scheme_end == std::string_view::npos || !(iequals(scheme, "http") || iequals(scheme, "https"))) {
            if (target == "*" && out.method == "OPTIONS") {  // asks about the server, not a resource
                out.path = target;
                return {};
            }
            return refuse(400, "request target is neither a path nor an absolute URL");
        }
        rest = target.substr(scheme_end + 3);
        size_t authority_end = rest.find_first_of("/?");
        out.host = rest.substr(0, authority_end);
        if (out.host.empty()) return refuse(400, "absolute URL without a host");
        rest = authority_end == std::string_view::npos ? std::string_view("/") : rest.substr(authority_end);
    }
    size_t q = rest.find('?');
    out.path = rest.substr(0, q);
    out.query = q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
    if (out.path.empty()) out.path = "/";  // "http://h?x" has an empty path
    return {};
}

HeadResult parse_request_line(std::string_view line, Request& out) {
    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return refuse(400, "request line is not METHOD TARGET VERSION");
    out.method = line.substr(0, sp1);
    out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (out.method.empty() || out.target.empty()) return refuse(400, "empty method or target");
    for (char c : out.method)
        if (!is_token_char(c)) return refuse(400, "bad character in method");
    for (char c : out.target)
        if (!is_target_char(c)) return refuse(400, "bad character in request target");
    if (HeadResult r = parse_version(version, out); r.refused()) return r;
    return parse_target(out.target, out);
}

HeadResult parse_header_line(std::string_view line, Header& h) {
    if (line.front() == ' ' || line.front() == '\t') return refuse(400, "obs-fold (continuation line)");
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return refuse(400, "header line without a colon");
    h.name = line.substr(0, colon);
    if (h.name.empty()) return refuse(400, "empty header name");
    for (char c : h.name)  // also refuses "Host :", the space before the colon that RFC 9112 §5.1 forbids
        if (!is_token_char(c)) return refuse(400, "bad character in header name");
    h.value = trim(line.substr(colon + 1));
    for (char c : h.value)
        if (!kFieldValue[static_cast<unsigned char>(c)]) return refuse(400, "control byte in header value");
    return {};
}

// Content-Length: digits only, no sign, no overflow; a list ("5, 5") only if every entry agrees.
HeadResult parse_content_length(std::string_view value, bool& seen, uint64_t& length) {
    while (true) {
        size_t comma = value.find(',');
        std::string_view item = trim(value.substr(0, comma));
        if (item.empty() || item.size() > 18) return refuse(400, "Content-Length is empty or too long");
        uint64_t n = 0;
        for (char c : item) {
            if (c < '0' || c > '9') return refuse(400, "Content-Length is not a number");
            n = n * 10 + static_cast<uint64_t>(c - '0');  // 18 digits cannot overflow 64 bits
        }
        if (seen && n != length) return refuse(400, "two different Content-Lengths");
        seen = true;
        length = n;
        if (comma == std::string_view::npos) return {};
        value.remove_prefix(comma + 1);
    }
}

// Transfer-Encoding: we understand exactly one coding, "chunked", and it must be there once.
HeadResult parse_transfer_encoding(std::string_view value, int& chunked_count) {
    while (true) {
        size_t comma = value.find(',');
        std::string_view coding = trim(value.substr(0, comma));
        if (!coding.empty()) {
            if (!iequals(coding, "chunked")) return refuse(501, "transfer coding not implemented");
            ++chunked_count;
        }
        if (comma == std::string_view::npos) return {};
        value.remove_prefix(comma + 1);
    }
}

struct FieldsSeen {
    int hosts = 0;
    bool has_length = false;
    uint64_t length = 0;
    bool has_transfer_encoding = false;
    int chunked = 0;
    bool close = false;
    bool keep_alive = false;
};

HeadResult note_field(const Header& h, FieldsSeen& seen, Request& out) {
    if (iequals(h.name, "Host")) {
        if (++seen.hosts == 1 && out.host.empty()) out.host = h.value;
    } else if (iequals(h.name, "Content-Length")) {
        return parse_content_length(h.value, seen.has_length, seen.length);
    } else if (iequals(h.name, "Transfer-Encoding")) {
        seen.has_transfer_encoding = true;
        return parse_transfer_encoding(h.value, seen.chunked);
    } else if (iequals(h.name, "Connection")) {
        seen.close |= has_token(h.value, "close");
        seen.keep_alive |= has_token(h.value, "keep-alive");
    }
    return {};
}

// The framing rules of RFC 9112 §6, strict where leniency lets a request be smuggled.
HeadResult decide_framing(const FieldsSeen& seen, Request& out, Framing& framing, size_t max_body) {
    if (seen.hosts > 1) return refuse(400, "more than one Host header");
    if (seen.hosts == 0 && out.minor_version == 1) return refuse(400, "HTTP/1.1 request without Host");
    if (seen.has_transfer_encoding) {
        if (seen.has_length) return refuse(400, "both Content-Length and Transfer-Encoding");
        if (out.minor_version == 0) return refuse(400, "Transfer-Encoding in an HTTP/1.0 request");
        if (seen.chunked != 1) return refuse(400, "chunked must be given exactly once");
        framing.chunked = true;
    } else if (seen.has_length) {
        if (seen.length > max_body) return refuse(413, "body larger than the limit");
        framing.content_length = seen.length;
    }
    out.chunked = framing.chunked;
    out.keep_alive = out.minor_version == 1 ? !seen.close : (seen.keep_alive && !seen.close);
    return {};
}

}  // namespace

HeadResult parse_head(std::string_view head, Request& out, Framing& framing, size_t max_body) {
    out = Request{};
    std::string_view rest = head;
    if (HeadResult r = parse_request_line(next_line(rest), out); r.refused()) return r;
    FieldsSeen seen;
    for (std::string_view line = next_line(rest); !line.empty(); line = next_line(rest)) {
        if (out.header_count == kMaxHeaders) return refuse(431, "more than 100 header fields");
        Header& h = out.header_storage[out.header_count++];
        if (HeadResult r = parse_header_line(line, h); r.refused()) return r;
        if (HeadResult r = note_field(h, seen, out); r.refused()) return r;
    }
    return decide_framing(seen, out, framing, max_body);
}

static char lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower_ascii(a[i]) != lower_ascii(b[i])) return false;
    return true;
}

bool has_token(std::string_view list, std::string_view token) {
    while (!list.empty()) {
        size_t comma = list.find(',');
        if (iequals(trim(list.substr(0, comma)), token)) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

std::string_view Request::header(std::string_view name) const {
    for (const Header& h : headers())
        if (iequals(h.name, name)) return h.value;
    return {};
}

}  // namespace one::http
