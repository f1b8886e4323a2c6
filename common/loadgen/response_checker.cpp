// response_checker: the byte state machine. Bodies are skipped in bulk; only head bytes and
// chunk-size lines are looked at one by one.
#include "response_checker.hpp"

#include "common/http_parser.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace one::loadgen {

namespace {

constexpr std::string_view kVersion = "HTTP/1.";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 9110 tchar: what a header name may be made of.
bool is_token_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
    return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// The last element of a comma-separated list, without surrounding whitespace.
std::string_view last_token(std::string_view list) {
    size_t comma = list.rfind(',');
    std::string_view last = comma == std::string_view::npos ? list : list.substr(comma + 1);
    while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
    return last;
}

}  // namespace

void ResponseChecker::start(int expected_status, bool head_request) {
    *this = ResponseChecker();
    expected_status_ = expected_status;
    head_request_ = head_request;
}

Step ResponseChecker::malformed(size_t used, const char* why) {
    why_ = why;
    state_ = State::Done;
    return {used, Outcome::Malformed};
}

Outcome ResponseChecker::finished() {
    state_ = State::Done;
    return status_ == expected_status_ ? Outcome::Good : Outcome::WrongStatus;
}

Outcome ResponseChecker::finish_at_eof() {
    if (state_ == State::CloseBody) return finished();
    why_ = started() ? "connection closed in the middle of a response" : "connection closed before a response";
    return Outcome::Malformed;
}

Step ResponseChecker::feed(std::span<const char> bytes) {
    const size_t n = bytes.size();
    size_t i = 0;
    while (i < n) {
        switch (state_) {
        case State::FixedBody:
        case State::ChunkData: {  // body bytes: skip them all at once
            size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, n - i));
            i += take;
            remaining_ -= take;
            if (remaining_ == 0 && state_ == State::ChunkData) state_ = State::ChunkDataCr;
            else if (remaining_ == 0) return {i, finished()};
            continue;
        }
        case State::CloseBody:
            return {n, Outcome::Partial};
        case State::Value:
            if (field_ == Field::Other) {  // a header we do not need: jump to its line's end
                const void* lf = std::memchr(bytes.data() + i, '\n', n - i);
                if (!lf) return {n, Outcome::Partial};
                i = static_cast<size_t>(static_cast<const char*>(lf) - bytes.data()) + 1;
                state_ = State::HeaderStart;
                continue;
            }
            break;
        case State::Done:
            return {i, Outcome::Partial};  // the caller forgot start(): take nothing
        default:
            break;
        }
        char c = bytes[i++];
        bool ok = state_ < State::HeaderStart ? step_status_line(c)
                : state_ < State::FixedBody   ? step_header(c)
                                              : step_chunk(c);
        if (!ok) return malformed(i, why_);
        if (state_ == State::Done) return {i, finished()};
    }
    return {n, Outcome::Partial};
}

// "HTTP/1.1 200 OK\r\n"; the reason phrase may be empty or missing.
bool ResponseChecker::step_status_line(char c) {
    switch (state_) {
    case State::Version:
        if (c != kVersion[matched_]) return why_ = "status line does not start with HTTP/1.", false;
        if (++matched_ == kVersion.size()) state_ = State::Minor;
        return true;
    case State::Minor:
        if (!is_digit(c)) return why_ = "bad HTTP version", false;
        minor_ = c - '0';
        keep_alive_ = minor_ >= 1;  // HTTP/1.0 closes unless it says keep-alive
        state_ = State::StatusSpace;
        return true;
    case State::StatusSpace:
        if (c != ' ') return why_ = "no space after the version", false;
        matched_ = 0;
        state_ = State::StatusCode;
        return true;
    case State::StatusCode:
        if (matched_ == 3) {
            if (status_ < 100 || status_ > 599) return why_ = "status code out of range", false;
            if (c == ' ') state_ = State::Reason;
            else if (c == '\r') state_ = State::LineLf;
            else if (c == '\n') state_ = State::HeaderStart;
            else return why_ = "status code is not three digits", false;
            return true;
        }
        if (!is_digit(c)) return why_ = "status code is not three digits", false;
        status_ = status_ * 10 + (c - '0');
        ++matched_;
        return true;
    case State::Reason:
        if (c == '\r') state_ = State::LineLf;
        else if (c == '\n') state_ = State::HeaderStart;
        else if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return why_ = "control byte in the reason phrase", false;
        return true;
    case State::LineLf:
        if (c != '\n') return why_ = "CR without LF", false;
        state_ = State::HeaderStart;
        return true;
    default:
        return false;
    }
}

bool ResponseChecker::step_header(char c) {
    switch (state_) {
    case State::HeaderStart:
        if (c == '\r') state_ = State::HeadLf;
        else if (c == '\n') return end_head();
        else if (c == ' ' || c == '\t') return why_ = "obsolete line folding", false;
        else if (!is_token_char(c)) return why_ = "bad header name", false;
        else {
            name_[0] = static_cast<char>(c | 0x20);  // | 0x20 lower-cases letters; we compare names only
            name_len_ = 1;
            state_ = State::Name;
        }
        return true;
    case State::HeadLf:
        if (c != '\n') return why_ = "CR without LF", false;
        return end_head();
    case State::Name:
        if (c == ':') return end_name();
        if (!is_token_char(c)) return why_ = "bad header name", false;
        if (name_len_ < kNameMax) name_[name_len_] = static_cast<char>(c | 0x20);
        if (name_len_ < UINT8_MAX) ++name_len_;
        return true;
    case State::ValueSpace:
        if (c == ' ' || c == '\t') return true;
        state_ = State::Value;
        [[fallthrough]];
    case State::Value:
        if (c == '\r') return state_ = State::LineLf, end_value();  // LineLf then goes to HeaderStart
        if (c == '\n') return state_ = State::HeaderStart, end_value();
        if (field_ == Field::Other) return true;  // feed() skips the rest of this line in one go
        if (value_len_ == kValueMax) return why_ = "header value too long", false;
        value_[value_len_++] = c;
        return true;
    default:
        return false;
    }
}

bool ResponseChecker::end_name() {
    std::string_view name(name_, std::min<size_t>(name_len_, kNameMax));
    if (name_len_ > kNameMax) name = {};
    field_ = name == "content-length"      ? Field::ContentLength
           : name == "transfer-encoding" ? Field::TransferEncoding
           : name == "connection"        ? Field::Connection
                                         : Field::Other;
    value_len_ = 0;
    state_ = State::ValueSpace;
    return true;
}

bool ResponseChecker::end_value() {
    std::string_view value(value_, value_len_);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    switch (field_) {
    case Field::ContentLength: {
        if (value.empty() || value.size() > 18 || !std::all_of(value.begin(), value.end(), is_digit))
            return why_ = "bad Content-Length", false;
        uint64_t length = 0;
        for (char c : value) length = length * 10 + static_cast<uint64_t>(c - '0');
        if (has_length_ && length != content_length_) return why_ = "two different Content-Lengths", false;
        has_length_ = true;
        content_length_ = length;
        return true;
    }
    case Field::TransferEncoding:
        has_transfer_encoding_ = true;
        chunked_ = http::iequals(last_token(value), "chunked");  // else the body runs to the close
        if (!chunked_) keep_alive_ = false;
        return true;
    case Field::Connection:
        if (http::has_token(value, "close")) keep_alive_ = false;
        else if (http::has_token(value, "keep-alive") && minor_ == 0) keep_alive_ = true;
        return true;
    case Field::Other:
        return true;
    }
    return true;
}

// The blank line: decide how the body is framed (RFC 9112 section 6.3).
bool ResponseChecker::end_head() {
    if (status_ < 200 && status_ != 101) {  // 100 Continue and friends: the real response follows
        int expected = expected_status_;
        start(expected, head_request_);
        return true;
    }
    if (status_ == 101) return why_ = "unexpected 101 Switching Protocols", false;
    if (has_length_ && has_transfer_encoding_) return why_ = "both Content-Length and Transfer-Encoding", false;
    if (head_request_ || status_ == 204 || status_ == 304) state_ = State::Done;
    else if (chunked_) state_ = State::ChunkSize;
    else if (has_length_ && !has_transfer_encoding_) {
        remaining_ = content_length_;
        state_ = remaining_ ? State::FixedBody : State::Done;
    } else {
        state_ = State::CloseBody;  // no length: the body is whatever comes before the close
        keep_alive_ = false;
    }
    matched_ = 0;
    return true;
}

// Chunk-size line, chunk data's CRLF, trailer fields.
bool ResponseChecker::step_chunk(char c) {
    switch (state_) {
    case State::ChunkSize: {
        int digit = hex_value(c);
        if (digit >= 0) {
            if (matched_ >= 15) return why_ = "chunk size too large", false;
            remaining_ = remaining_ * 16 + static_cast<uint64_t>(digit);
            ++matched_;
            return true;
        }
        if (matched_ == 0) return why_ = "bad chunk size", false;
        if (c == ';' || c == ' ' || c == '\t') state_ = State::ChunkExt;
        else if (c == '\r') state_ = State::ChunkSizeLf;
        else if (c == '\n') state_ = remaining_ ? State::ChunkData : State::Trailer;
        else return why_ = "bad chunk size", false;
        return true;
    }
    case State::ChunkExt:
        if (c == '\r') state_ = State::ChunkSizeLf;
        else if (c == '\n') state_ = remaining_ ? State::ChunkData : State::Trailer;
        return true;
    case State::ChunkSizeLf:
        if (c != '\n') return why_ = "CR without LF", false;
        state_ = remaining_ ? State::ChunkData : State::Trailer;
        return true;
    case State::ChunkDataCr:
        if (c == '\r') state_ = State::ChunkDataLf;
        else if (c == '\n') state_ = State::ChunkSize, matched_ = 0;
        else return why_ = "chunk data longer than its size", false;
        return true;
    case State::ChunkDataLf:
        if (c != '\n') return why_ = "CR without LF", false;
        state_ = State::ChunkSize, matched_ = 0;
        return true;
    case State::Trailer:
        if (c == '\r') state_ = State::TrailerLf;
        else if (c == '\n') state_ = State::Done;
        else state_ = State::TrailerLine;
        return true;
    case State::TrailerLine:
        if (c == '\n') state_ = State::Trailer;
        return true;
    case State::TrailerLf:
        if (c != '\n') return why_ = "CR without LF", false;
        state_ = State::Done;
        return true;
    default:
        return false;
    }
}

}  // namespace one::loadgen
