// http_head: parses a request head (request line and header fields) into views, and decides how
// the body is framed. One pass: each byte is looked at once, by a loop that checks it is allowed
// where it stands and stops at the end of the line, so no separate search for line ends is needed.
// Given bytes that end before the blank line, it says so (incomplete) rather than guess.
#include "http_head.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace one::http {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

HeadResult refuse(int status, const char* why) { return {status, why}; }

HeadResult parse_version(std::string_view v, Request& out) {
    if (v == "HTTP/1.1" || v == "HTTP/1.0") {  // nearly always: judged without a call to memcmp
        out.minor_version = v[7] - '0';
        return {};
    }
    // "HTTP/" DIGIT "." DIGIT; anything else is not HTTP at all.
    if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.' || !std::isdigit((unsigned char)v[5]) ||
        !std::isdigit((unsigned char)v[7]))
        return refuse(400, "malformed HTTP version");
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return refuse(505, "HTTP version not supported");
    out.minor_version = v[7] - '0';
    return {};
}

// Where the query begins ('?'), or npos. Most targets are a few bytes long: looking at them here
// costs less than the call to memchr that std::string_view::find makes.
size_t find_query(std::string_view target) {
    if (target.size() > 32) return target.find('?');
    for (size_t i = 0; i < target.size(); ++i)
        if (target[i] == '?') return i;
    return std::string_view::npos;
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
    size_t q = find_query(rest);
    out.path = rest.substr(0, q);
    out.query = q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
    if (out.path.empty()) out.path = "/";  // "http://h?x" has an empty path
    return {};
}

// A cursor over the head's bytes. Each step returns 0, kIncomplete, or the status to refuse with.
struct Cursor {
    const char* at;
    const char* end;
};

// Skips bytes of `table`'s class; false if the bytes ran out first.
template <typename Table>
bool skip(Cursor& c, const Table& table) {
    while (c.at < c.end && table[static_cast<unsigned char>(*c.at)]) ++c.at;
    return c.at < c.end;
}

// The same for the two classes that make up most of a head's bytes, the request target and field
// values: both end at a control byte (below `first_allowed`, tab excepted for values) or DEL.
// Sixteen bytes are judged at once with SSE2, as picohttpparser does; only whole 16-byte blocks
// before c.end are loaded, so nothing past the caller's bytes is read. The table finishes the tail.
template <unsigned char first_allowed, bool tab_allowed, typename Table>
bool skip_visible(Cursor& c, const Table& table) {
#if defined(__SSE2__)
    const __m128i below = _mm_set1_epi8(static_cast<char>(first_allowed - 1));
    const __m128i del = _mm_set1_epi8(0x7f), tab = _mm_set1_epi8('\t');
    while (c.end - c.at >= 16) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c.at));
        __m128i stop = _mm_cmpeq_epi8(_mm_min_epu8(v, below), v);  // v <= first_allowed - 1, unsigned
        if (tab_allowed) stop = _mm_andnot_si128(_mm_cmpeq_epi8(v, tab), stop);
        stop = _mm_or_si128(stop, _mm_cmpeq_epi8(v, del));
        if (int mask = _mm_movemask_epi8(stop)) {
            c.at += __builtin_ctz(static_cast<unsigned>(mask));
            return true;
        }
        c.at += 16;
    }
#endif
    return skip(c, table);
}

// The same for a token (a method or a header name), eight bytes per branch: the eight lookups
// are independent, and the byte loop's exit, at a different length for every name, is taken
// once per name instead of being tested at every byte.
inline bool skip_token(Cursor& c) {
    auto is = [&](size_t i) { return kToken[static_cast<unsigned char>(c.at[i])]; };
    while (c.end - c.at >= 8 && (is(0) & is(1) & is(2) & is(3) & is(4) & is(5) & is(6) & is(7))) c.at += 8;
    return skip(c, kToken);
}

// The end of a line: CRLF, or a bare LF (accepted, as nginx does; RFC 9112 §2.2 allows it). A CR
// that is not followed by LF is refused: it is one way to make two parsers disagree.
inline HeadResult end_of_line(Cursor& c) {
    if (c.at == c.end) return {kIncomplete};
    if (*c.at == '\n') {
        ++c.at;
        return {};
    }
    if (*c.at != '\r') return refuse(400, "control byte in the request");
    if (c.at + 1 == c.end) return {kIncomplete};
    if (c.at[1] != '\n') return refuse(400, "CR without LF");
    c.at += 2;
    return {};
}

constexpr std::array<bool, 256> make_target_table() {  // any visible byte; control bytes and spaces end it
    std::array<bool, 256> t{};
    for (int c = 0x21; c < 0x100; ++c) t[c] = c != 0x7f;
    return t;
}
constexpr auto kTarget = make_target_table();

constexpr std::array<bool, 256> make_version_table() {  // anything up to the end of the line
    std::array<bool, 256> t{};
    for (int c = 0; c < 0x100; ++c) t[c] = c != '\r' && c != '\n';
    return t;
}
constexpr auto kVersion = make_version_table();

HeadResult parse_request_line(Cursor& c, Request& out) {
    const char* method = c.at;
    if (!skip_token(c)) return {kIncomplete};
    if (*c.at != ' ' || c.at == method) return refuse(400, *c.at == ' ' ? "empty method" : "bad character in method");
    out.method = {method, static_cast<size_t>(c.at++ - method)};
    const char* target = c.at;
    if (!skip_visible<0x21, false>(c, kTarget)) return {kIncomplete};
    if (*c.at != ' ' || c.at == target) return refuse(400, *c.at == ' ' ? "empty request target" : "bad character in request target");
    out.target = {target, static_cast<size_t>(c.at++ - target)};
    const char* version = c.at;
    // Nearly every request line ends "HTTP/1.x" and then the line: take those 8 bytes at once.
    if (c.end - c.at > 8 && std::memcmp(c.at, "HTTP/1.", 7) == 0 && (c.at[8] == '\r' || c.at[8] == '\n')) c.at += 8;
    else if (!skip(c, kVersion)) return {kIncomplete};
    std::string_view v(version, static_cast<size_t>(c.at - version));
    if (HeadResult r = end_of_line(c); r.status) return r;
    if (HeadResult r = parse_version(v, out); r.refused()) return r;
    return parse_target(out.target, out);
}

// One "Name: value" line. Returns 0 with `h` filled, kIncomplete, or a refusal.
HeadResult parse_header_line(Cursor& c, Header& h) {
    if (*c.at == ' ' || *c.at == '\t') return refuse(400, "obs-fold (continuation line)");
    const char* name = c.at;
    if (!skip_token(c)) return {kIncomplete};
    // Anything but ':' here is a bad name, "Host :" included: RFC 9112 §5.1 forbids space before the colon.
    if (*c.at != ':') return refuse(400, *c.at == '\r' || *c.at == '\n' ? "header line without a colon" : "bad character in header name");
    if (c.at == name) return refuse(400, "empty header name");
    h.name = {name, static_cast<size_t>(c.at++ - name)};
    while (c.at < c.end && (*c.at == ' ' || *c.at == '\t')) ++c.at;
    const char* value = c.at;
    if (!skip_visible<0x20, true>(c, kFieldValue)) return {kIncomplete};
    const char* value_end = c.at;
    while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t')) --value_end;
    h.value = {value, static_cast<size_t>(value_end - value)};
    if (*c.at != '\r' && *c.at != '\n') return refuse(400, "control byte in header value");
    return end_of_line(c);
}

// A header name in lower case, as is_named compares it: in 8-byte words (4-byte for a shorter
// name), the last word moved back to overlap the one before when the length is not a multiple,
// and beside each word the bit 0x20 of each of its letters. Worked out by the compiler: computed
// at run time, each mask was eight byte stores and then one wider load of them, on which the CPU
// stalls (a fifth of a chunked request's head). The arrays have a spare slot: none may be empty.
template <size_t N>
struct LowerName {
    static constexpr size_t size = N - 1;
    static constexpr size_t word = size >= 8 ? 8 : 4;
    static constexpr size_t words = size < 4 ? 0 : (size + word - 1) / word;
    size_t at[words + 1]{};       // where each word starts in the name
    uint64_t want[words + 1]{};   // the name's bytes there, in the machine's byte order
    uint64_t letters[words + 1]{};
    char text[N]{};

    consteval LowerName(const char (&lower)[N]) {
        for (size_t i = 0; i < N; ++i) text[i] = lower[i];
        for (size_t w = 0; w < words; ++w) {
            at[w] = w + 1 == words ? size - word : w * word;
            for (size_t k = 0; k < word; ++k) {
                char c = lower[at[w] + k];
                size_t shift = std::endian::native == std::endian::little ? 8 * k : 8 * (word - 1 - k);
                want[w] |= uint64_t{static_cast<unsigned char>(c)} << shift;
                if (c >= 'a' && c <= 'z') letters[w] |= uint64_t{0x20} << shift;
            }
        }
    }
};

// True when `name` is `lower` in any case. A letter of `lower` matches exactly the two bytes that
// differ from it only in bit 0x20, so OR-ing that bit into the name at the letters' places, and
// nowhere else, compares a whole word exactly.
template <LowerName lower>
bool is_named(std::string_view name) {
    if (name.size() != lower.size) return false;
    if constexpr (lower.words == 0) {
        return iequals(name, lower.text);
    } else {
        for (size_t w = 0; w < lower.words; ++w) {
            uint64_t got = 0;
            if constexpr (lower.word == 8) {
                std::memcpy(&got, name.data() + lower.at[w], 8);
            } else {
                uint32_t half;
                std::memcpy(&half, name.data() + lower.at[w], 4);
                got = half;
            }
            if ((got | lower.letters[w]) != lower.want[w]) return false;
        }
        return true;
    }
}

// What a Host value may hold: uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2): a reg-name's
// unreserved, pct-encoded and sub-delims characters, ':' and an IP-literal's brackets. No space,
// so "a, b" (two Host lines joined by a proxy) is refused. The shape is not checked further.
inline constexpr auto kHostChar = alnum_and("-._~%!$&'()*+,;=:[]");

bool valid_host(std::string_view host) {
    return std::all_of(host.begin(), host.end(), [](char c) { return kHostChar[static_cast<unsigned char>(c)]; });
}

struct FieldsSeen {
    int hosts = 0;
    std::string_view host;   // the Host field's value
    bool has_length = false;
    uint64_t length = 0;
    bool has_transfer_encoding = false;
    TransferCodings codings;
    bool close = false;
    bool keep_alive = false;
};

HeadResult note_field(const Header& h, FieldsSeen& seen, Request& out) {
    // Most headers are none of these four, and their length says so without comparing a byte.
    switch (h.name.size()) {
    case 4:
        if (is_named<"host">(h.name) && ++seen.hosts == 1) {
            seen.host = h.value;
            if (out.host.empty()) out.host = h.value;
        }
        break;
    case 10:
        if (is_named<"connection">(h.name)) {
            seen.close |= has_token(h.value, "close");
            seen.keep_alive |= has_token(h.value, "keep-alive");
        }
        break;
    case 14:
        if (is_named<"content-length">(h.name)) return parse_content_length(h.value, seen.has_length, seen.length);
        break;
    case 17:
        if (is_named<"transfer-encoding">(h.name)) {
            seen.has_transfer_encoding = true;
            add_transfer_codings(h.value, seen.codings);
        }
        break;
    }
    return {};
}

// The framing rules of RFC 9112 §6, strict where leniency lets a request be smuggled.
HeadResult decide_framing(const FieldsSeen& seen, Request& out, Framing& framing, size_t max_body) {
    if (seen.hosts > 1) return refuse(400, "more than one Host header");
    if (seen.hosts == 0 && out.minor_version == 1) return refuse(400, "HTTP/1.1 request without Host");
    if (seen.hosts == 1 && !valid_host(seen.host)) return refuse(400, "Host is not a host name and port");
    if (seen.has_transfer_encoding) {
        if (seen.has_length) return refuse(400, "both Content-Length and Transfer-Encoding");
        if (out.minor_version == 0) return refuse(400, "Transfer-Encoding in an HTTP/1.0 request");
        // RFC 9112 §6.3: without chunked as the final coding, nobody can tell where the body ends.
        if (!seen.codings.last_is_chunked) return refuse(400, "chunked is not the final transfer coding");
        if (seen.codings.chunked != 1) return refuse(400, "chunked must be given exactly once");
        // We understand exactly one coding (§6.1: 501 for one we do not): "gzip, chunked" is framed
        // well, but its body could not be decoded.
        if (seen.codings.count != 1) return refuse(501, "transfer coding not implemented");
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

HeadResult parse_head(std::string_view bytes, Request& out, Framing& framing, size_t max_body, HeadShape* shape) {
    // Reset field by field: `out = Request{}` would also zero 100 unused header slots (3.2 KiB),
    // which cost more than parsing a small request does. One assignment each, not a chain: g++
    // compiles `a = b = {}` into stores then a wider load of them, which stalls store forwarding.
    out.method = {};
    out.target = {};
    out.path = {};
    out.query = {};
    out.host = {};
    out.body = {};
    out.minor_version = 1;
    out.keep_alive = true;
    out.chunked = false;
    out.header_count = 0;
    Cursor c{bytes.data(), bytes.data() + bytes.size()};
    if (HeadResult r = parse_request_line(c, out); r.status) return r;
    if (shape) shape->line_end = static_cast<size_t>(c.at - bytes.data());
    FieldsSeen seen;
    for (;;) {
        if (c.at == c.end) return {kIncomplete};
        if (*c.at == '\r' || *c.at == '\n') {  // the blank line: the head is complete
            if (HeadResult r = end_of_line(c); r.status) return r;
            break;
        }
        if (out.header_count == kMaxHeaders) return refuse(431, "more than 100 header fields");
        // Parsed into a local and then stored: note_field reading the views back from the array
        // would load 16 bytes just written as two 8-byte halves, which stalls the CPU.
        Header h;
        if (HeadResult r = parse_header_line(c, h); r.status) return r;
        out.header_storage[out.header_count++] = h;
        if (HeadResult r = note_field(h, seen, out); r.refused()) return r;
    }
    if (shape) shape->head_end = static_cast<size_t>(c.at - bytes.data());
    return decide_framing(seen, out, framing, max_body);
}

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

void add_transfer_codings(std::string_view value, TransferCodings& codings) {
    while (true) {
        size_t comma = value.find(',');
        std::string_view coding = trim(value.substr(0, comma));
        if (!coding.empty()) {  // "a, , b" is a list of two (RFC 9110 §5.6.1)
            bool chunked = iequals(coding, "chunked");
            ++codings.count;
            codings.chunked += chunked;
            codings.last_is_chunked = chunked;
        }
        if (comma == std::string_view::npos) return;
        value.remove_prefix(comma + 1);
    }
}

HeadResult parse_field_line(std::string_view bytes, Header& h, size_t& used) {
    if (bytes.empty()) return {kIncomplete};
    Cursor c{bytes.data(), bytes.data() + bytes.size()};
    HeadResult r = parse_header_line(c, h);
    used = static_cast<size_t>(c.at - bytes.data());
    return r;
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
