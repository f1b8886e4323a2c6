// http_parser: finds where a request ends. The head is searched for its blank line with memchr,
// resuming where the last call stopped; then the body is framed by Content-Length or decoded
// from chunked in place. Everything is an offset into the caller's buffer, which may move.
#include "http_parser.hpp"

#include "http_head.hpp"

#include <algorithm>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace one::http {
namespace {

// The first '\n' in buf[from, end), or npos. Chunk-size lines are a few bytes long, so the first
// bytes are looked at directly: for them a call to memchr costs more than the search.
[[gnu::always_inline]] inline size_t find_lf(std::span<const char> buf, size_t from) {
    for (size_t near = std::min(buf.size(), from + 8); from < near; ++from)
        if (buf[from] == '\n') return from;
    if (from >= buf.size()) return std::string_view::npos;
    const void* hit = std::memchr(buf.data() + from, '\n', buf.size() - from);
    return hit ? static_cast<size_t>(static_cast<const char*>(hit) - buf.data()) : std::string_view::npos;
}

// The line buf[from, lf) without a trailing CR.
std::string_view line_at(std::span<const char> buf, size_t from, size_t lf) {
    size_t end = lf > from && buf[lf - 1] == '\r' ? lf - 1 : lf;
    return {buf.data() + from, end - from};
}

// Moves n bytes from `from` down to `to` (to < from): chunk data over the framing before it. Each
// 16-byte block is loaded before anything is stored where it lay, so the forward copy is safe
// however much the two overlap; for chunks of a few hundred bytes it costs less than the call to
// memmove, which takes the rest.
void move_down(char* to, const char* from, size_t n) {
    if (n > 256) return static_cast<void>(std::memmove(to, from, n));
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 16 <= n; i += 16)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(to + i), _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + i)));
#endif
    for (; i < n; ++i) to[i] = from[i];
}

bool has_control_byte(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\t') || u == 0x7f;
    });
}

// A CR in buf[from, to) that does not start a CRLF. RFC 9112 §2.2 refuses it anywhere in a head,
// so once one is seen the answer is 400 whatever follows; a CR at the very end of what has
// arrived cannot be judged until the next byte does.
bool has_bare_cr(std::span<const char> buf, size_t from, size_t to) {
    for (size_t at = from; at < to; ++at) {
        const void* hit = std::memchr(buf.data() + at, '\r', to - at);
        if (!hit) return false;
        at = static_cast<size_t>(static_cast<const char*>(hit) - buf.data());
        if (at + 1 < buf.size() && buf[at + 1] != '\n') return true;
    }
    return false;
}

// Whether buf[from, to), the start of a request line, may still begin with a method and a space.
// Judged on the first bytes, without waiting for the line's end: a client that speaks something
// else (a TLS ClientHello sent to a plain port, which starts 0x16 0x03) gets its 400 at once, as
// from nginx, not a 408 after the header timeout. The verdict is parse_head's own, so it is the
// same however the request was cut; only the wait differs. Methods are short: 32 bytes decide.
bool method_may_follow(std::span<const char> buf, size_t from, size_t to) {
    for (size_t at = from; at < std::min(to, from + 32); ++at) {
        char c = buf[at];
        if (kToken[static_cast<unsigned char>(c)]) continue;
        return c == ' ' || c == '\r';  // the method's end (empty or not, parse_head says), or the line's: judged there
    }
    return true;
}

bool skip_bws(std::string_view line, size_t& at) {
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t')) ++at;
    return at < line.size();
}

// token, at `at`; false if there is none.
bool take_token(std::string_view line, size_t& at) {
    size_t from = at;
    while (at < line.size() && kToken[static_cast<unsigned char>(line[at])]) ++at;
    return at > from;
}

// quoted-string (RFC 9110 §5.6.4), at the opening quote; false if it is not one.
bool take_quoted(std::string_view line, size_t& at) {
    for (++at; at < line.size(); ++at) {
        if (line[at] == '"') { ++at; return true; }
        if (line[at] == '\\' && ++at == line.size()) return false;
        if (!kFieldValue[static_cast<unsigned char>(line[at])]) return false;  // qdtext and quoted-pair alike
    }
    return false;
}

// chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) (RFC 9112 §7.1.1).
// Extensions are ignored, but their syntax is checked: a parser that reads a quote where another
// does not would disagree with it on where the line ends. Whitespace is allowed only before a
// ';' or an '=', so "5 " is refused.
bool valid_chunk_ext(std::string_view line, size_t at) {
    while (at < line.size()) {
        if (!skip_bws(line, at) || line[at] != ';') return false;
        ++at;
        if (!skip_bws(line, at) || !take_token(line, at)) return false;
        size_t after_name = at;
        if (skip_bws(line, at) && line[at] == '=') {
            ++at;
            if (!skip_bws(line, at)) return false;
            if (!(line[at] == '"' ? take_quoted(line, at) : take_token(line, at))) return false;
        } else {
            at = after_name;  // the whitespace belongs before the next ';', or is trailing junk
        }
    }
    return true;
}

// chunk-size [ chunk-ext ], the line before each chunk. Returns false when it is malformed.
bool parse_chunk_size(std::string_view line, uint64_t& size) {
    size_t digits = 0;
    size = 0;
    for (; digits < line.size(); ++digits) {
        char c = line[digits];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0) break;
        if (digits == 15) return false;  // 15 hex digits already exceed any body we accept; refuse before overflow
        size = size * 16 + static_cast<uint64_t>(v);
    }
    return digits > 0 && valid_chunk_ext(line, digits);
}

}  // namespace

ParseResult RequestParser::fail(int status, const char* why) {
    phase_ = Phase::Failed;
    failure_ = {ParseStatus::Error, 0, status, why};
    return failure_;
}

// Finds the blank line that ends the head, then parses the head. Returns Complete when the head
// is done (the body may still be missing).
ParseResult RequestParser::scan_head(std::span<char> buf, Request& out) {
    if (line_end_ == 0) {
        // RFC 9112 §2.2: ignore blank lines before a request (some clients add CRLF after a body).
        while (start_ < buf.size() && (buf[start_] == '\n' || (buf[start_] == '\r' && start_ + 1 < buf.size() && buf[start_ + 1] == '\n')))
            start_ += buf[start_] == '\r' ? 2 : 1;
        if (start_ > kMaxRequestLine) return fail(400, "too many blank lines before the request");
        // Most requests arrive whole in one read. On the first look, parse in one pass; only if
        // that finds no blank line (or a fault) fall back to searching, which never rescans.
        if (scanned_ <= start_ && start_ < buf.size() && parse_whole_head(buf, out)) return {ParseStatus::Complete};
        size_t from = std::max(scanned_, start_);
        size_t lf = find_lf(buf, from);
        // A bare CR is refused without waiting for a LF that a client ending its lines with CR alone
        // never sends (from - 1: a CR that ended the last read), and before the length is judged.
        // Only within the first 8 KiB + 1: any CR there is seen, with the byte after it, before the
        // length limit can be, so the answer does not depend on how the bytes were cut.
        size_t line_to = std::min(lf == std::string_view::npos ? buf.size() : lf, start_ + kMaxRequestLine + 1);
        if (has_bare_cr(buf, from > start_ ? from - 1 : from, line_to)) return fail(400, "bare CR in the request line");
        if (!method_may_follow(buf, start_, line_to)) return fail(400, "bad character in method");
        if (lf == std::string_view::npos) {
            scanned_ = buf.size();
            if (buf.size() - start_ > kMaxRequestLine + 1) return fail(414, "request line longer than 8 KiB");
            return {};
        }
        if (line_at(buf, start_, lf).size() > kMaxRequestLine) return fail(414, "request line longer than 8 KiB");
        line_end_ = lf + 1;
        scanned_ = lf;  // the blank line may follow at once: "GET / HTTP/1.0\r\n\r\n"
    }
    // The head ends at a '\n' followed by "\n" or "\r\n"; a '\n' near the end of what has arrived
    // cannot be judged yet, so the next call looks at it again rather than at everything before it.
    size_t lf = find_lf(buf, scanned_);
    for (; lf != std::string_view::npos; lf = find_lf(buf, lf + 1)) {
        if (lf + 1 == buf.size() || (lf + 2 == buf.size() && buf[lf + 1] == '\r')) break;
        if (buf[lf + 1] == '\n') { head_end_ = lf + 2; break; }
        if (buf[lf + 1] == '\r' && buf[lf + 2] == '\n') { head_end_ = lf + 3; break; }
    }
    if (head_end_ == 0) {
        scanned_ = lf == std::string_view::npos ? buf.size() : lf;
        if (buf.size() - line_end_ > kMaxHeaderBytes) return fail(431, "header section larger than 16 KiB");
        return {};
    }
    if (head_end_ - line_end_ > kMaxHeaderBytes) return fail(431, "header section larger than 16 KiB");
    Framing framing;
    std::string_view head(buf.data() + start_, head_end_ - start_);
    if (HeadResult r = parse_head(head, out, framing, max_body_); r.status) return fail(r.status, r.why);
    head_parsed(framing);
    return {ParseStatus::Complete};
}

// The fast path: the whole head in one pass. Returns true when the head is parsed; false when it
// could not settle the matter (the head is incomplete, refused, or over a limit), and then the
// searching path decides, so that a request gets the same answer however it was cut. A bool and
// not a ParseResult: the 32-byte struct, stored field by field and loaded whole, stalls the CPU.
bool RequestParser::parse_whole_head(std::span<char> buf, Request& out) {
    Framing framing;
    HeadShape shape;
    std::string_view bytes(buf.data() + start_, buf.size() - start_);
    HeadResult r = parse_head(bytes, out, framing, max_body_, &shape);
    if (r.status) return false;  // incomplete, or refused: the limits below are judged first
    size_t line = shape.line_end - (shape.line_end >= 2 && bytes[shape.line_end - 2] == '\r' ? 2 : 1);
    if (line > kMaxRequestLine || shape.head_end - shape.line_end > kMaxHeaderBytes) return false;
    line_end_ = start_ + shape.line_end;
    head_end_ = start_ + shape.head_end;
    scanned_ = head_end_;
    head_parsed(framing);
    return true;
}

void RequestParser::head_parsed(const Framing& framing) {
    raw_ = decoded_end_ = head_end_;
    remaining_ = framing.content_length;
    phase_ = framing.chunked ? Phase::ChunkSize : framing.content_length ? Phase::FixedBody : Phase::Done;
}

// Decodes as much of a chunked body as has arrived, moving chunk data down over the framing.
ParseResult RequestParser::scan_chunked(std::span<char> buf) {
    for (;;) {
        if (phase_ == Phase::ChunkSize || phase_ == Phase::Trailers) {
            size_t lf = find_lf(buf, std::max(raw_, scanned_));
            if (lf == std::string_view::npos) {
                scanned_ = buf.size();
                if (phase_ == Phase::ChunkSize && buf.size() - raw_ > kMaxChunkLine) return fail(400, "chunk-size line too long");
                if (phase_ == Phase::Trailers && buf.size() - line_start_ > kMaxHeaderBytes) return fail(431, "trailers larger than 16 KiB");
                return {};
            }
            // The same limits as above, on a line that arrived whole: the answer must not depend on
            // how the bytes were cut into reads.
            if (phase_ == Phase::ChunkSize && lf - raw_ > kMaxChunkLine) return fail(400, "chunk-size line too long");
            if (phase_ == Phase::Trailers && lf + 1 - line_start_ > kMaxHeaderBytes) return fail(431, "trailers larger than 16 KiB");
            // RFC 9112 §7.1: chunked framing ends its lines with CRLF. A bare LF is tolerated in
            // the head and trailer fields (§2.2), never here: a front door that read it as a line end
            // before a backend that does not would disagree with it on where the body ends.
            if (phase_ == Phase::ChunkSize && (lf == raw_ || buf[lf - 1] != '\r')) return fail(400, "chunk-size line not ended by CRLF");
            std::string_view line = line_at(buf, raw_, lf);
            raw_ = lf + 1;
            if (phase_ == Phase::Trailers) {
                if (line.empty()) { phase_ = Phase::Done; return {ParseStatus::Complete}; }
                if (has_control_byte(line) || line.find(':') == std::string_view::npos) return fail(400, "malformed trailer field");
                continue;
            }
            if (!parse_chunk_size(line, remaining_)) return fail(400, "invalid chunk size");
            if (remaining_ == 0) { phase_ = Phase::Trailers; line_start_ = raw_; continue; }
            if (remaining_ > max_body_ - (decoded_end_ - head_end_)) return fail(413, "body larger than the limit");
            phase_ = Phase::ChunkData;
        }
        if (phase_ == Phase::ChunkData) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, buf.size() - raw_));
            move_down(buf.data() + decoded_end_, buf.data() + raw_, n);
            decoded_end_ += n;
            raw_ += n;
            remaining_ -= n;
            if (remaining_ > 0) return {};
            phase_ = Phase::ChunkDataEnd;
        }
        if (phase_ == Phase::ChunkDataEnd) {  // the CRLF after the data
            if (raw_ + 1 < buf.size() && buf[raw_] == '\r' && buf[raw_ + 1] == '\n') { raw_ += 2; phase_ = Phase::ChunkSize; continue; }
            if (raw_ >= buf.size() || (raw_ + 1 == buf.size() && buf[raw_] == '\r')) return {};
            return fail(400, "chunk data not followed by CRLF");
        }
    }
}

ParseResult RequestParser::finish(std::span<char> buf, Request& out) {
    Framing framing;
    parse_head({buf.data() + start_, head_end_ - start_}, out, framing, max_body_);
    return {ParseStatus::Complete};
}

ParseResult RequestParser::parse(std::span<char> buf, Request& out) {
    bool head_parsed_now = false;
    if (phase_ == Phase::Failed) return failure_;
    if (phase_ == Phase::Head) {
        ParseResult r = scan_head(buf, out);
        if (!r.complete()) return r;
        head_parsed_now = true;
    }
    if (phase_ == Phase::FixedBody) {
        if (buf.size() - head_end_ < remaining_) return {};
        raw_ = decoded_end_ = head_end_ + static_cast<size_t>(remaining_);
        phase_ = Phase::Done;
    } else if (phase_ != Phase::Done) {
        ParseResult r = scan_chunked(buf);
        if (!r.complete()) return r;
    }
    // `out` still points into the buffer of the call that parsed the head; that buffer may be gone.
    if (!head_parsed_now) finish(buf, out);
    out.body = {buf.data() + head_end_, decoded_end_ - head_end_};
    return {ParseStatus::Complete, raw_};
}

}  // namespace one::http
