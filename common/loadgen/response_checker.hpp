// response_checker: checks and frames HTTP/1.1 responses as their bytes stream in, one byte state
// machine, no buffer and no allocation.
//
// The client never keeps response bytes: it hands each read to feed(), which remembers only the
// few facts framing needs (status, Content-Length, chunked, Connection: close) and says where a
// response ends, so a response may be cut anywhere, even inside "Content-Length".
//
//     ResponseChecker checker;  checker.start(200, /*head_request=*/false);
//     Step s = checker.feed(bytes);   -> used s.used bytes; s.outcome says what it found
//     Partial   -> feed the next read
//     Good      -> a whole response with the expected status; bytes after s.used are the next one's
//     WrongStatus -> a whole, well-framed response with another status (the connection may go on)
//     Malformed -> not HTTP/1.x, or framing we cannot trust: close the connection
//     on EOF: finish_at_eof() ends a close-delimited body, anything else cut short is Malformed
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace one::loadgen {

enum class Outcome : uint8_t { Partial, Good, WrongStatus, Malformed };

struct Step {
    size_t used = 0;
    Outcome outcome = Outcome::Partial;
};

class ResponseChecker {
public:
    // Prepares for the next response. `head_request`: the answer to HEAD carries no body.
    void start(int expected_status, bool head_request);

    // Consumes bytes up to the end of the current response (or all of them, if it does not end).
    // After Good, WrongStatus or Malformed, call start() before feeding more.
    Step feed(std::span<const char> bytes);

    // The peer closed. Good or WrongStatus when that ended a close-delimited body, else Malformed.
    Outcome finish_at_eof();

    int status() const { return status_; }
    bool keep_alive() const { return keep_alive_; }  // false: the server closes after this one
    bool started() const { return state_ != State::Version || matched_ != 0; }  // a byte has arrived
    const char* why() const { return why_; }        // after Malformed: a short reason

private:
    enum class State : uint8_t {
        Version, Minor, StatusSpace, StatusCode, Reason, LineLf,                // status line
        HeaderStart, HeadLf, Name, ValueSpace, Value,                            // header fields
        FixedBody, CloseBody,                                                    // bodies
        ChunkSize, ChunkExt, ChunkSizeLf, ChunkData, ChunkDataCr, ChunkDataLf,   // chunked
        Trailer, TrailerLine, TrailerLf, Done
    };

    enum class Field : uint8_t { Other, ContentLength, TransferEncoding, Connection };

    // response_head.cpp
    static bool is_token_char(char c);
    static Field classify(std::string_view name);
    bool take_line(std::string_view line);
    bool take_status_line(std::string_view line);
    bool take_header_line(std::string_view line);
    bool step_status_line(char c);
    bool step_header(char c);
    bool end_name();
    bool apply_value(std::string_view value);
    bool end_head();
    // response_checker.cpp
    bool step_chunk(char c);
    Outcome finished();
    Step malformed(size_t used, const char* why);

    static constexpr size_t kNameMax = 20;   // "transfer-encoding" fits; longer names are Other
    static constexpr size_t kValueMax = 64;  // of the values we read; longer ones are Malformed

    State state_ = State::Version;
    Field field_ = Field::Other;
    bool head_request_ = false;
    bool keep_alive_ = true;
    bool chunked_ = false;
    bool has_length_ = false;
    bool has_transfer_encoding_ = false;
    bool ext_chunk_ = false;     // the chunk-size line has extensions we skip
    uint8_t matched_ = 0;        // characters of "HTTP/1." or of the status code seen so far
    uint8_t name_len_ = 0;
    uint8_t value_len_ = 0;
    int expected_status_ = 200;
    int status_ = 0;
    int minor_ = 1;
    uint64_t remaining_ = 0;     // body or chunk bytes still to come
    uint64_t content_length_ = 0;
    const char* why_ = "";
    char name_[kNameMax];        // the current header's name, lower-cased
    char value_[kValueMax];      // the current header's value, for the fields we read
};

}  // namespace one::loadgen
