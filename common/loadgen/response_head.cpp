// response_head: the status line and header fields of a response. When a whole line is in the
// bytes at hand it is read in one go (take_line); a line cut by a read is stepped through byte by
// byte. Both ways give the same verdict: the tests feed every response cut at every byte.
#include "response_checker.hpp"

#include "common/http_parser.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace one::loadgen {

namespace {

constexpr std::string_view kVersion = "HTTP/1.";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 9110 tchar, what a header name may be made of, as a table: names are most of a head's bytes.
constexpr std::array<bool, 256> kTokenChars = [] {
    std::array<bool, 256> table{};
    for (unsigned char c : std::string_view("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        table[c] = true;
    return table;
}();

// The last element of a comma-separated list, without surrounding whitespace.
std::string_view last_token(std::string_view list) {
    size_t comma = list.rfind(',');
    std::string_view last = comma == std::string_view::npos ? list : list.substr(comma + 1);
    while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
    return last;
}

bool is_reason_char(char c) { return static_cast<unsigned char>(c) >= 0x20 || c == '\t'; }

}  // namespace

bool ResponseChecker::is_token_char(char c) { return kTokenChars[static_cast<unsigned char>(c)]; }

ResponseChecker::Field ResponseChecker::classify(std::string_view name) {
    if (name.size() == 14 && http::iequals(name, "content-length")) return Field::ContentLength;
    if (name.size() == 17 && http::iequals(name, "transfer-encoding")) return Field::TransferEncoding;
    if (name.size() == 10 && http::iequals(name, "connection")) return Field::Connection;
    return Field::Other;
}

// One whole line, '\n' included, at the start of the status line or of a header field.
bool ResponseChecker::take_line(std::string_view line) {
    line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // any other CR is refused below
    return state_ == State::Version ? take_status_line(line) : take_header_line(line);
}

bool ResponseChecker::take_status_line(std::string_view line) {
    if (line.size() < 12 || line.substr(0, kVersion.size()) != kVersion || !is_digit(line[7]) || line[8] != ' ' ||
        !is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]))
        return why_ = "malformed status line", false;
    minor_ = line[7] - '0';
    keep_alive_ = minor_ >= 1;
    status_ = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (status_ < 100 || status_ > 599) return why_ = "status code out of range", false;
    if (line.size() > 12 && line[12] != ' ') return why_ = "status code is not three digits", false;
    for (char c : line.substr(12))
        if (!is_reason_char(c)) return why_ = "control byte in the reason phrase", false;
    state_ = State::HeaderStart;
    return true;
}

bool ResponseChecker::take_header_line(std::string_view line) {
    if (line.empty()) return end_head();
    if (line[0] == ' ' || line[0] == '\t') return why_ = "obsolete line folding", false;
    size_t colon = 0;
    while (colon < line.size() && is_token_char(line[colon])) ++colon;
    if (colon == 0 || colon == line.size() || line[colon] != ':') return why_ = "bad header name", false;
    field_ = classify(line.substr(0, colon));
    state_ = State::HeaderStart;
    if (field_ == Field::Other) return true;  // not looked at, as byte by byte
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    if (value.find('\r') != std::string_view::npos) return why_ = "CR without LF", false;
    return apply_value(value);
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
        if (field_ == Field::Other) {  // not looked at, not even a stray CR; feed() skips to the line's end
            if (c == '\n') state_ = State::HeaderStart;
            return true;
        }
        if (c == '\r') return state_ = State::LineLf, apply_value({value_, value_len_});  // LineLf: then HeaderStart
        if (c == '\n') return state_ = State::HeaderStart, apply_value({value_, value_len_});
        if (value_len_ == kValueMax) return why_ = "header value too long", false;
        value_[value_len_++] = c;
        return true;
    default:
        return false;
    }
}

bool ResponseChecker::end_name() {
    field_ = name_len_ > kNameMax ? Field::Other : classify({name_, name_len_});
    value_len_ = 0;
    state_ = State::ValueSpace;
    return true;
}

// The value of a header we read, after leading whitespace, as it came.
bool ResponseChecker::apply_value(std::string_view value) {
    if (value.size() > kValueMax) return why_ = "header value too long", false;
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

}  // namespace one::loadgen
