// response_checker: the state machine's driver, bodies and chunked framing. Bodies are skipped in
// bulk; the head is in response_head.cpp.
#include "response_checker.hpp"

#include <algorithm>
#include <cstring>

namespace one::loadgen {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
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
        case State::Version:
        case State::HeaderStart:
            if (state_ == State::HeaderStart || matched_ == 0) {  // at a line's start: is all of it here?
                const void* lf = std::memchr(bytes.data() + i, '\n', n - i);
                if (!lf) break;
                size_t len = static_cast<size_t>(static_cast<const char*>(lf) - bytes.data()) + 1 - i;
                if (!take_line({bytes.data() + i, len})) return malformed(i + len, why_);
                i += len;
                if (state_ == State::Done) return {i, finished()};
                continue;
            }
            break;
        case State::Name:  // the name's characters in a tight loop; the step below sees the one that ends it
            while (i < n && is_token_char(bytes[i])) {
                if (name_len_ < kNameMax) name_[name_len_] = static_cast<char>(bytes[i] | 0x20);
                if (name_len_ < UINT8_MAX) ++name_len_;
                ++i;
            }
            if (i == n) return {n, Outcome::Partial};
            break;
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
