// response_parser: a response head, searched for its end as bytes arrive and then parsed in one
// pass with the request parser's field-line rules (http_head); then the body, decoded by the
// framing the head chose. The body is consumed as it is decoded: only a chunk-size or trailer line
// cut between reads is left at the buffer's front, and the search for its end resumes.
#include "response_parser.hpp"

#include "http_head.hpp"

#include <algorithm>
#include <cstring>

namespace one::http {
namespace {

constexpr size_t npos = std::string_view::npos;
constexpr const char* kHeadTooLarge = "response head larger than 64 KiB";
constexpr const char* kChunkLineTooLong = "chunk-size line longer than 1 KiB";
constexpr const char* kTrailersTooLarge = "trailer section larger than 64 KiB";

// The first '\n' in buf[from, end), or npos.
size_t find_lf(std::span<const char> buf, size_t from) {
    if (from >= buf.size()) return npos;
    const void* hit = std::memchr(buf.data() + from, '\n', buf.size() - from);
    return hit ? static_cast<size_t>(static_cast<const char*>(hit) - buf.data()) : npos;
}

// A line without its LF and the CR before it; any other CR stays in, to be refused.
std::string_view without_eol(std::string_view line) {
    line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "HTTP/1.1 200 OK", without its line end. The reason may be missing, with or without its space;
// it may hold what a field value may (RFC 9112 §4). Returns why it is refused, or nullptr.
const char* parse_status_line(std::string_view line, ResponseHead& out) {
    // HTTP/1.2 would be read as 1.1 by RFC 9110 §2.5, but nobody sends it: as the request parser, refuse.
    if (line.size() < 8 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1'))
        return "not an HTTP/1.0 or HTTP/1.1 status line";
    if (line.size() < 12 || line[8] != ' ' || !is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) ||
        (line.size() > 12 && line[12] != ' '))
        return "malformed status line";
    int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (status < 100 || status > 599) return "status code outside 100..599";
    std::string_view reason = line.size() > 13 ? line.substr(13) : std::string_view();
    for (char c : reason)
        if (!kFieldValue[static_cast<unsigned char>(c)]) return "control byte in the reason phrase";
    out.minor_version = line[7] - '0';
    out.status = status;
    out.reason = reason;
    return nullptr;
}

// What the header fields said about framing and the connection.
struct FieldsSeen {
    bool has_length = false;               // any Content-Length field, good or not
    bool length_agreed = false;            // parse_content_length's: a good value has been seen
    uint64_t length = 0;
    const char* length_fault = nullptr;    // the first bad Content-Length, judged only if it frames
    bool has_transfer_encoding = false;
    TransferCodings codings;
    bool close = false;
    bool keep_alive = false;
};

void note_field(const Header& h, FieldsSeen& seen) {
    if (iequals(h.name, "content-length")) {
        seen.has_length = true;
        HeadResult r = parse_content_length(h.value, seen.length_agreed, seen.length);
        if (r.refused() && !seen.length_fault) seen.length_fault = r.why;
    } else if (iequals(h.name, "transfer-encoding")) {
        seen.has_transfer_encoding = true;
        add_transfer_codings(h.value, seen.codings);
    } else if (iequals(h.name, "connection")) {
        seen.close |= has_token(h.value, "close");
        seen.keep_alive |= has_token(h.value, "keep-alive");
    }
}

// The header fields after the status line, through the blank line that ends `fields`.
const char* parse_fields(std::string_view fields, ResponseHead& out, FieldsSeen& seen) {
    for (size_t at = 0; at < fields.size();) {
        std::string_view rest = fields.substr(at);
        if (rest.starts_with("\n") || rest.starts_with("\r\n")) return nullptr;  // the blank line
        if (out.header_count == kMaxHeaders) return "more than 100 header fields";
        Header h;
        size_t used = 0;
        HeadResult r = parse_field_line(rest, h, used);
        if (r.status) return r.refused() ? r.why : "header field cut short";  // cut short: cannot happen
        out.header_storage[out.header_count++] = h;
        note_field(h, seen);
        at += used;
    }
    return "header section without a blank line";  // cannot happen: the search found one
}

// RFC 9112 §6.3, in its order. Where the backend and this proxy could disagree on where the body
// ends, refuse: a guess that is wrong hands the next response's bytes to the wrong client.
const char* decide_framing(const FieldsSeen& seen, bool for_head, ResponseHead& out, BodyFraming& framing, uint64_t& length) {
    out.keep_alive = out.minor_version == 1 ? !seen.close : seen.keep_alive && !seen.close;
    framing = BodyFraming::None;
    length = 0;
    if (for_head || out.status < 200 || out.status == 204 || out.status == 304) return nullptr;  // ends at the blank line
    if (seen.has_transfer_encoding) {
        if (seen.has_length) return "both Transfer-Encoding and Content-Length";
        // §6.1: a 1.0 message with Transfer-Encoding has faulty framing; a 1.0 peer may mean anything by it.
        if (out.minor_version == 0) return "Transfer-Encoding in an HTTP/1.0 response";
        if (seen.codings.count == 0) return "Transfer-Encoding without a coding";
        if (seen.codings.chunked > 1) return "chunked applied more than once";  // §7: MUST NOT
        framing = seen.codings.last_is_chunked ? BodyFraming::Chunked : BodyFraming::UntilClose;
    } else if (seen.has_length) {
        if (seen.length_fault) return seen.length_fault;
        framing = BodyFraming::Length;
        length = seen.length;
    } else {
        framing = BodyFraming::UntilClose;
    }
    if (framing == BodyFraming::UntilClose) out.keep_alive = false;  // the close is the body's end
    return nullptr;
}

// chunk-size [BWS ";" chunk-ext], without its line end (RFC 9112 §7.1): 1*HEXDIG and nothing before
// them; at most 15 digits, refused before they could overflow. Extensions are ignored but hold no
// control byte. Whitespace after the size with no ';' is taken, as the request parser takes it.
bool parse_chunk_size(std::string_view line, uint64_t& size) {
    size_t digits = 0;
    size = 0;
    for (; digits < line.size(); ++digits) {
        char c = line[digits];
        int v = is_digit(c) ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0) break;
        if (digits == 15) return false;
        size = size * 16 + static_cast<uint64_t>(v);
    }
    if (digits == 0) return false;
    std::string_view rest = line.substr(digits);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    if (rest.empty()) return true;
    return rest.front() == ';' &&
           std::all_of(rest.begin(), rest.end(), [](char c) { return kFieldValue[static_cast<unsigned char>(c)]; });
}

// The line end after a chunk's data: its length (2 for CRLF, 1 for a bare LF), 0 while it has not
// all arrived, -1 when something else stands there.
int end_of_chunk_data(std::span<const char> buf, size_t at) {
    if (at == buf.size()) return 0;
    if (buf[at] == '\n') return 1;
    if (buf[at] != '\r') return -1;
    if (at + 1 == buf.size()) return 0;
    return buf[at + 1] == '\n' ? 2 : -1;
}

}  // namespace

std::string_view ResponseHead::header(std::string_view name) const {
    for (const Header& h : headers())
        if (iequals(h.name, name)) return h.value;
    return {};
}

void ResponseParser::fail(const char* why) {
    phase_ = Phase::Failed;
    why_ = why;
}

ParseResult ResponseParser::fail_head(const char* why) {
    fail(why);
    return {ParseStatus::Error, 0, 502, why};
}

BodyStep ResponseParser::fail_body(size_t consumed, const char* why) {
    fail(why);
    return {consumed, false, true, why};
}

ParseResult ResponseParser::parse_head(std::span<const char> buf, ResponseHead& out) {
    if (phase_ == Phase::Failed) return {ParseStatus::Error, 0, 502, why_};
    if (phase_ != Phase::Head) return {ParseStatus::Error, 0, 502, "parse_head after the final head"};
    if (line_end_ == 0) {
        if (const char* why = find_status_line(buf, out)) return fail_head(why);
        if (line_end_ == 0) return {};
    }
    size_t end = find_head_end(buf);
    // With no end in sight every byte so far is the head's, so more than the limit is too many.
    if (end == 0) return buf.size() > kMaxResponseHead ? fail_head(kHeadTooLarge) : ParseResult{};
    if (end > kMaxResponseHead) return fail_head(kHeadTooLarge);
    return parse_whole_head({buf.data(), end}, out);
}

// Looks for the status line's LF, and checks the line as soon as it is whole: a backend that answers
// something else (an SSH banner, HTTP/0.9) is refused at once, not after a blank line or a timeout.
// Only the first kMaxResponseHead + 1 bytes are searched; a line beyond them is too long already,
// and the same error must come whether its LF arrived in the same read or not.
const char* ResponseParser::find_status_line(std::span<const char> buf, ResponseHead& out) {
    std::span<const char> window = buf.first(std::min(buf.size(), kMaxResponseHead + 1));
    size_t lf = find_lf(window, scanned_);
    if (lf == npos) {
        scanned_ = window.size();
        return buf.size() > kMaxResponseHead ? kHeadTooLarge : nullptr;
    }
    line_end_ = lf + 1;
    scanned_ = lf;  // the blank line may follow at once: "HTTP/1.1 204 No Content\r\n\r\n"
    return parse_status_line(without_eol({buf.data(), lf + 1}), out);
}

// Where the head ends: just past an LF followed by LF or CRLF, or 0 if not yet. An LF among the
// last two bytes cannot be judged yet, so the next call searches again from it, and only from it.
size_t ResponseParser::find_head_end(std::span<const char> buf) {
    size_t lf = find_lf(buf, scanned_);
    for (; lf != npos; lf = find_lf(buf, lf + 1)) {
        if (lf + 1 == buf.size() || (lf + 2 == buf.size() && buf[lf + 1] == '\r')) break;
        if (buf[lf + 1] == '\n') return lf + 2;
        if (buf[lf + 1] == '\r' && buf[lf + 2] == '\n') return lf + 3;
    }
    scanned_ = lf == npos ? buf.size() : lf;
    return 0;
}

// Parses a head known to be whole. An interim one leaves the parser looking for the next head.
ParseResult ResponseParser::parse_whole_head(std::string_view head, ResponseHead& out) {
    // The status line again: the views set when it was checked may point into a buffer since moved.
    out.header_count = 0;
    if (const char* why = parse_status_line(without_eol(head.substr(0, line_end_)), out)) return fail_head(why);
    FieldsSeen seen;
    if (const char* why = parse_fields(head.substr(line_end_), out, seen)) return fail_head(why);
    if (const char* why = decide_framing(seen, for_head_, out, framing_, content_length_)) return fail_head(why);
    if (out.status < 200) {
        line_end_ = scanned_ = 0;
    } else {
        start_body();
    }
    return {ParseStatus::Complete, head.size()};
}

void ResponseParser::start_body() {
    remaining_ = content_length_;
    line_searched_ = 0;
    switch (framing_) {
    case BodyFraming::None: phase_ = Phase::Done; break;
    case BodyFraming::Length: phase_ = remaining_ ? Phase::Length : Phase::Done; break;
    case BodyFraming::Chunked: phase_ = Phase::ChunkSize; break;
    case BodyFraming::UntilClose: phase_ = Phase::UntilClose; break;
    }
}

BodyStep ResponseParser::parse_body(std::span<const char> buf, std::string& body) {
    switch (phase_) {
    case Phase::Head: return {0, false, true, "parse_body before the final head"};
    case Phase::Failed: return {0, false, true, why_};
    case Phase::Done: return {0, true};
    case Phase::Length:
    case Phase::UntilClose: return parse_fixed(buf, body);
    default: return parse_chunked(buf, body);
    }
}

// A body delimited by Content-Length, or by the close.
BodyStep ResponseParser::parse_fixed(std::span<const char> buf, std::string& body) {
    size_t n = phase_ == Phase::UntilClose ? buf.size() : static_cast<size_t>(std::min<uint64_t>(remaining_, buf.size()));
    body.append(buf.data(), n);
    if (phase_ == Phase::Length && (remaining_ -= n) == 0) phase_ = Phase::Done;
    return {n, phase_ == Phase::Done};
}

// Chunks: a size line, the data, its CRLF; a size of zero ends them, then trailers (checked, then
// dropped) up to a blank line. Lines are taken whole; one cut short waits at the buffer's front.
BodyStep ResponseParser::parse_chunked(std::span<const char> buf, std::string& body) {
    size_t at = 0;
    while (phase_ != Phase::Done) {
        if (phase_ == Phase::ChunkData) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, buf.size() - at));
            body.append(buf.data() + at, n);
            at += n;
            remaining_ -= n;
            if (remaining_ > 0) return {at};
            phase_ = Phase::ChunkDataEnd;
        } else if (phase_ == Phase::ChunkDataEnd) {
            int eol = end_of_chunk_data(buf, at);
            if (eol < 0) return fail_body(at, "chunk data not followed by CRLF");
            if (eol == 0) return {at};
            at += static_cast<size_t>(eol);
            phase_ = Phase::ChunkSize;
        } else {  // a chunk-size line or a trailer line
            size_t lf = find_lf(buf, at + line_searched_);
            if (lf == npos) {
                line_searched_ = buf.size() - at;
                if (const char* why = check_unfinished_line(line_searched_)) return fail_body(at, why);
                return {at};
            }
            std::string_view line(buf.data() + at, lf + 1 - at);
            line_searched_ = 0;
            const char* why = phase_ == Phase::ChunkSize ? take_size_line(line) : take_trailer_line(line);
            if (why) return fail_body(at, why);
            at = lf + 1;
        }
    }
    return {at, true};
}

// The limits on a line whose LF has not arrived, `bytes` long so far: refused early only when the
// whole line is certain to break them too, so that how the bytes were cut changes nothing.
const char* ResponseParser::check_unfinished_line(size_t bytes) const {
    if (phase_ == Phase::ChunkSize) return bytes > kMaxChunkLine ? kChunkLineTooLong : nullptr;
    return trailer_bytes_ + bytes > kMaxResponseHead ? kTrailersTooLarge : nullptr;
}

// A whole chunk-size line, LF included.
const char* ResponseParser::take_size_line(std::string_view line) {
    if (line.size() - 1 > kMaxChunkLine) return kChunkLineTooLong;
    if (!parse_chunk_size(without_eol(line), remaining_)) return "invalid chunk size";
    phase_ = remaining_ ? Phase::ChunkData : Phase::Trailers;
    trailer_bytes_ = 0;
    return nullptr;
}

// A whole trailer line, LF included: checked as a header field line is, then dropped. Nothing
// after the body may be taken on trust, nor left unread to be taken for the next response.
const char* ResponseParser::take_trailer_line(std::string_view line) {
    trailer_bytes_ += line.size();
    if (trailer_bytes_ > kMaxResponseHead) return kTrailersTooLarge;
    if (line == "\n" || line == "\r\n") {
        phase_ = Phase::Done;
        return nullptr;
    }
    Header h;
    size_t used = 0;
    return parse_field_line(line, h, used).status ? "malformed trailer field" : nullptr;
}

bool ResponseParser::end_of_input() {
    if (phase_ == Phase::UntilClose) phase_ = Phase::Done;
    if (phase_ == Phase::Done) return true;
    if (phase_ != Phase::Failed) fail("the backend closed the connection before the response ended");
    return false;
}

}  // namespace one::http
