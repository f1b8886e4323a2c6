// Tests for the response parser (response_parser), which chapter 09's proxy reads its backends with.
//
// Every response here goes through parse_every_way(): fed whole, one byte at a time, and in two
// pieces cut at every byte, with the bytes placed right before an unreadable page, and all the ways
// must agree. The feeding works as the proxy does: each head's and each body step's consumed bytes
// are dropped from the front of a pending string, and the next call gets what is left plus what came.
#include "common/response_parser.hpp"
#include "guarded_memory.hpp"

#include <doctest/doctest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

using namespace one::http;
using namespace std::string_literals;
using one::test::describe;
using one::test::GuardedMemory;
using namespace std::string_view_literals;  // a "literal" passed as a span would include its NUL

namespace {

// One head the parser returned, copied out of the buffer.
struct HeadSeen {
    int status = 0;
    int minor_version = 0;
    std::string reason;
    bool keep_alive = false;
    BodyFraming framing = BodyFraming::None;
    uint64_t content_length = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    size_t bytes = 0;  // what parse_head consumed

    bool operator==(const HeadSeen&) const = default;
};

// All a parser made of one input.
struct Outcome {
    std::vector<HeadSeen> heads;  // interim heads, then the final one
    std::string body;             // decoded
    bool done = false;            // the body ended by its own framing
    std::string error;            // why, once a call failed
    int eof = -1;                 // end_of_input() after the last byte: 1, 0, or -1 when not asked
    size_t used = 0;              // bytes consumed, heads and body

    bool operator==(const Outcome&) const = default;
    const HeadSeen& last() const { return heads.back(); }
};

const char* name(BodyFraming f) {
    switch (f) {
    case BodyFraming::None: return "None";
    case BodyFraming::Length: return "Length";
    case BodyFraming::Chunked: return "Chunked";
    case BodyFraming::UntilClose: return "UntilClose";
    }
    return "?";
}

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
    for (const HeadSeen& h : o.heads) {
        os << "[" << h.status << " '" << h.reason << "' 1." << h.minor_version << (h.keep_alive ? " keep-alive " : " close ")
           << name(h.framing) << "(" << h.content_length << ") " << h.headers.size() << " fields, " << h.bytes << "B] ";
    }
    os << "body=" << o.body.size() << "B" << (o.done ? " done" : "") << " used=" << o.used << " eof=" << o.eof;
    if (!o.error.empty()) os << " error: " << o.error;
    return os;
}

std::string str(const Outcome& o) {
    std::ostringstream s;
    s << o;
    return s.str();
}


struct Options {
    bool head_request = false;  // the request was HEAD
    bool close = false;         // the backend closes after the last byte
};

HeadSeen seen(const ResponseHead& h, const ResponseParser& p, size_t bytes) {
    HeadSeen s{h.status, h.minor_version, std::string(h.reason), h.keep_alive, p.framing(), p.content_length(), {}, bytes};
    for (const Header& f : h.headers()) s.headers.emplace_back(f.name, f.value);
    return s;
}

// Feeds `input` to one parser as reads would bring it: up to each offset in `cuts`, then the rest.
// With `mem`, every call sees its bytes copied to end right before an unreadable page.
Outcome feed(const std::string& input, const std::vector<size_t>& cuts, Options opts, GuardedMemory* mem) {
    ResponseParser parser(opts.head_request);
    ResponseHead head;
    Outcome out;
    std::string pending;
    bool final_head = false, finished = false;
    auto view = [&] { return mem ? mem->place(pending) : std::span<const char>(pending); };
    auto take_what_came = [&] {
        for (;;) {
            if (!final_head) {
                ParseResult r = parser.parse_head(view(), head);
                if (r.incomplete()) return;
                if (r.error()) {
                    CHECK(r.http_status == 502);
                    out.error = r.why;
                    finished = true;
                    return;
                }
                out.heads.push_back(seen(head, parser, r.consumed));
                pending.erase(0, r.consumed);
                out.used += r.consumed;
                final_head = head.status >= 200;
                continue;
            }
            BodyStep step = parser.parse_body(view(), out.body);
            REQUIRE(step.consumed <= pending.size());
            pending.erase(0, step.consumed);
            out.used += step.consumed;  // on error too: what was taken before the fault
            out.error = step.why;
            finished = out.done = step.done;
            finished |= step.error;
            return;
        }
    };
    size_t from = 0;
    for (size_t k = 0; k <= cuts.size() && !finished; ++k) {
        size_t to = k < cuts.size() ? cuts[k] : input.size();
        pending.append(input, from, to - from);
        from = to;
        take_what_came();
    }
    if (!finished && opts.close) out.eof = parser.end_of_input();
    return out;
}

// Two-piece cuts: at every byte, but only near the ends of a long input (and at a stride between),
// where the limits are; the byte-at-a-time feed covers every byte of those anyway.
size_t next_cut(size_t cut, size_t size) {
    if (size <= 4096 || cut < 512 || cut + 512 >= size) return cut + 1;
    return std::min(cut + 97, size - 512);
}

Outcome parse_every_way(const std::string& input, Options opts = {}) {
    INFO("input: ", describe(input));
    Outcome whole = feed(input, {}, opts, nullptr);
    bool small = input.size() <= 4096;
    GuardedMemory mem(input.size());
    CHECK_MESSAGE(feed(input, {}, opts, &mem) == whole, "whole, guarded");
    std::vector<size_t> every(input.size() > 0 ? input.size() - 1 : 0);
    std::iota(every.begin(), every.end(), size_t{1});
    CHECK_MESSAGE(feed(input, every, opts, nullptr) == whole, "one byte at a time");
    if (small) CHECK_MESSAGE(feed(input, every, opts, &mem) == whole, "one byte at a time, guarded");
    std::string broken;
    for (size_t cut = 0; cut <= input.size() && broken.empty(); cut = next_cut(cut, input.size())) {
        Outcome o = feed(input, {cut}, opts, small ? &mem : nullptr);
        if (!(o == whole)) broken = "cut at " + std::to_string(cut) + " gave " + str(o) + ", whole gave " + str(whole);
    }
    CHECK_MESSAGE(broken.empty(), broken);
    return whole;
}

// A whole response, every way: no error, its body complete, every byte used.
Outcome expect_response(const std::string& input, Options opts = {}) {
    Outcome o = parse_every_way(input, opts);
    INFO("input: ", describe(input));
    INFO("outcome: ", str(o));
    REQUIRE(o.error.empty());
    REQUIRE_FALSE(o.heads.empty());
    CHECK(o.done);
    CHECK(o.used == input.size());
    return o;
}

// A response to refuse, every way; with `why`, for that reason.
void expect_refusal(const std::string& input, std::string_view why = {}, Options opts = {}) {
    Outcome o = parse_every_way(input, opts);
    INFO("input: ", describe(input));
    INFO("outcome: ", str(o));
    CHECK_FALSE(o.error.empty());
    if (!why.empty()) CHECK(o.error == why);
}

const std::string kOk = "HTTP/1.1 200 OK\r\n";
const std::string kChunkedHead = kOk + "Transfer-Encoding: chunked\r\n\r\n";

// A head exactly `bytes` long, with a Content-Length of 0.
std::string head_of_size(size_t bytes) {
    const std::string start = kOk + "Content-Length: 0\r\nX: ";
    return start + std::string(bytes - start.size() - 4, 'x') + "\r\n\r\n";
}

}  // namespace

TEST_SUITE("response parser") {

TEST_CASE("a head: status, reason, version and fields, as views into the caller's buffer") {
    const std::string input = "HTTP/1.1 404 Not Found\r\nServer: t/1.0\r\nContent-Type: \t text/plain \t\r\nX-Empty:\r\n"
                              "Content-Length: 4\r\n\r\nnope";
    Outcome o = expect_response(input);
    REQUIRE(o.heads.size() == 1);
    CHECK(o.last().status == 404);
    CHECK(o.last().reason == "Not Found");
    CHECK(o.last().minor_version == 1);
    CHECK(o.last().bytes == input.size() - 4);
    CHECK(o.body == "nope");
    using H = std::pair<std::string, std::string>;
    CHECK(o.last().headers ==
          std::vector<H>{{"Server", "t/1.0"}, {"Content-Type", "text/plain"}, {"X-Empty", ""}, {"Content-Length", "4"}});

    std::string buf = input;
    ResponseParser parser;
    ResponseHead head;
    REQUIRE(parser.parse_head(buf, head).complete());
    auto inside = [&](std::string_view v) { return v.data() >= buf.data() && v.data() + v.size() <= buf.data() + buf.size(); };
    CHECK(inside(head.reason));
    for (const Header& h : head.headers()) CHECK((inside(h.name) && inside(h.value)));
    CHECK(head.header("content-TYPE") == "text/plain");  // names compare in any case
    CHECK(head.header("Missing").empty());
}

TEST_CASE("the status line: a reason may be missing, with or without its space, and may hold tabs and obs-text") {
    CHECK(expect_response("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").last().reason.empty());
    CHECK(expect_response("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").last().reason.empty());
    CHECK(expect_response("HTTP/1.1 200 O K \r\nContent-Length: 0\r\n\r\n").last().reason == "O K ");  // as sent
    CHECK(expect_response("HTTP/1.1 200 a\tb \xc3\xa9\r\nContent-Length: 0\r\n\r\n").last().reason == "a\tb \xc3\xa9");
    Outcome old = expect_response("HTTP/1.0 599 Odd\r\nContent-Length: 0\r\n\r\n");
    CHECK(old.last().minor_version == 0);
    CHECK(old.last().status == 599);
    CHECK(expect_response("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").heads[0].status == 100);
}

TEST_CASE("the status line: other versions and junk are refused") {
    const char* not_http = "not an HTTP/1.0 or HTTP/1.1 status line";
    for (const char* line : {"HTTP/2 200 OK", "HTTP/2.0 200 OK", "HTTP/1.2 200 OK", "HTTP/0.9 200 OK", "http/1.1 200 OK",
                             "HTTPS/1.1 200 OK", "ICY 200 OK", "HTTP/1.", "HTTP/1.x 200 OK", "", " HTTP/1.1 200 OK",
                             "SSH-2.0-OpenSSH_9.6"}) {
        CAPTURE(line);
        expect_refusal(line + "\r\nContent-Length: 0\r\n\r\n"s, not_http);
    }
    for (const char* line : {"HTTP/1.1", "HTTP/1.1 ", "HTTP/1.1 20", "HTTP/1.1 2000 OK", "HTTP/1.1  200 OK", "HTTP/1.10 200 OK",
                             "HTTP/1.1 20x OK", "HTTP/1.1 -20 OK", "HTTP/1.1\t200 OK", "HTTP/1.1 200\tOK", "HTTP/1.1 200OK"}) {
        CAPTURE(line);
        expect_refusal(line + "\r\nContent-Length: 0\r\n\r\n"s, "malformed status line");
    }
    for (const char* line : {"HTTP/1.1 600 Odd", "HTTP/1.1 099 Odd", "HTTP/1.1 000 Zero", "HTTP/1.1 999 Odd"}) {
        CAPTURE(line);
        expect_refusal(line + "\r\nContent-Length: 0\r\n\r\n"s, "status code outside 100..599");
    }
    for (const std::string& line : {"HTTP/1.1 200 O\rK"s, "HTTP/1.1 200 OK\0"s, "HTTP/1.1 200 \x7f"s, "HTTP/1.1 200 \x1b[0m"s}) {
        CAPTURE(describe(line));
        expect_refusal(line + "\r\nContent-Length: 0\r\n\r\n"s, "control byte in the reason phrase");
    }
    expect_refusal("HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n", "control byte in the reason phrase");  // bare CR as a line end
}

TEST_CASE("a bad status line is refused as soon as its line end arrives, before any blank line") {
    ResponseParser parser;
    ResponseHead head;
    std::string buf = "SSH-2.0-OpenSSH_9.6\r";
    CHECK(parser.parse_head(buf, head).incomplete());
    buf += "\n";
    ParseResult r = parser.parse_head(buf, head);
    CHECK(r.error());
    CHECK(r.http_status == 502);
}

TEST_CASE("header lines: strict as the request parser's") {
    const std::string bad[] = {
        kOk + "Content-Length : 0\r\n\r\n",       // space before the colon
        kOk + "Content-Length\t: 0\r\n\r\n",
        kOk + "X: a\r\n folded\r\nContent-Length: 0\r\n\r\n",  // obs-fold
        kOk + "X: a\r\n\tfolded\r\nContent-Length: 0\r\n\r\n",
        kOk + " X: a\r\nContent-Length: 0\r\n\r\n",
        kOk + "X: a\rb\r\nContent-Length: 0\r\n\r\n",  // bare CR
        kOk + "X: a\r\r\nContent-Length: 0\r\n\r\n",
        kOk + "Content-Length: 0\r\n\rX: y\r\n\r\n",
        kOk + "X: a\0b\r\nContent-Length: 0\r\n\r\n"s,  // NUL and other control bytes
        kOk + "X: a\x01\r\nContent-Length: 0\r\n\r\n",
        kOk + "X: a\x7f\r\nContent-Length: 0\r\n\r\n",
        kOk + "X\0: a\r\nContent-Length: 0\r\n\r\n"s,
        kOk + "No colon here\r\nContent-Length: 0\r\n\r\n",
        kOk + ": no name\r\nContent-Length: 0\r\n\r\n",
        kOk + "X(y): z\r\nContent-Length: 0\r\n\r\n",
    };
    for (const std::string& input : bad) expect_refusal(input);
    Outcome o = expect_response(kOk + "X: tab\there \xc3\xa9\r\nContent-Length: 0\r\n\r\n");
    CHECK(o.last().headers[0].second == "tab\there \xc3\xa9");
}

TEST_CASE("bare LF ends lines anywhere, as in requests (RFC 9112 §2.2); CRLF and LF may mix") {
    Outcome lf = expect_response("HTTP/1.1 200 OK\nContent-Length: 2\n\nhi");
    CHECK(lf.last().reason == "OK");
    CHECK(lf.body == "hi");
    CHECK(expect_response("HTTP/1.1 204 No Content\n\n").last().status == 204);
    CHECK(expect_response("HTTP/1.1 200 OK\r\nX: y\nContent-Length: 0\r\n\n").last().headers.size() == 2);
    CHECK(expect_response("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n2;x\nde\n0\nT: 1\n\n").body == "abcde");
    CHECK(expect_response(kChunkedHead + "3\r\nabc\n2\nde\r\n0\n\r\n").body == "abcde");
}

TEST_CASE("the head: 64 KiB is fine, one byte more is refused, even before the blank line arrives") {
    CHECK(head_of_size(kMaxResponseHead).size() == kMaxResponseHead);
    CHECK(expect_response(head_of_size(kMaxResponseHead)).last().bytes == kMaxResponseHead);
    const char* too_large = "response head larger than 64 KiB";
    expect_refusal(head_of_size(kMaxResponseHead + 1), too_large);
    std::string unfinished = head_of_size(kMaxResponseHead + 1).substr(0, kMaxResponseHead + 1);
    expect_refusal(unfinished, too_large);
    ResponseParser parser;
    ResponseHead head;
    CHECK(parser.parse_head(std::string_view(unfinished).substr(0, kMaxResponseHead), head).incomplete());
    CHECK(parser.parse_head(unfinished, head).error());

    // A status line that alone is too long: the same refusal, whether its line end came or not, and
    // even when the line is junk (it is judged only if it ends within the limit).
    std::string long_reason = "HTTP/1.1 200 " + std::string(kMaxResponseHead, 'r');
    expect_refusal(long_reason, too_large);
    expect_refusal(long_reason + "\r\nContent-Length: 0\r\n\r\n", too_large);
    expect_refusal(std::string(kMaxResponseHead, 'j') + "\r\n\r\n", too_large);
    expect_refusal(std::string(kMaxResponseHead - 1, 'j') + "\r\n\r\n", "not an HTTP/1.0 or HTTP/1.1 status line");
}

TEST_CASE("100 header fields are fine, 101 are refused") {
    auto with_fields = [](size_t count) {
        std::string s = kOk + "Content-Length: 0\r\n";
        for (size_t i = 1; i < count; ++i) s += "X-" + std::to_string(i) + ": v\r\n";
        return s + "\r\n";
    };
    CHECK(expect_response(with_fields(kMaxHeaders)).last().headers.size() == kMaxHeaders);
    expect_refusal(with_fields(kMaxHeaders + 1), "more than 100 header fields");
}

TEST_CASE("Content-Length frames the body; what follows it is left for later") {
    Outcome o = expect_response(kOk + "Content-Length: 11\r\n\r\nhello world");
    CHECK(o.last().framing == BodyFraming::Length);
    CHECK(o.last().content_length == 11);
    CHECK(o.body == "hello world");
    CHECK(expect_response(kOk + "Content-Length: 3\r\n\r\n\0\r\n"s).body == "\0\r\n"s);
    CHECK(expect_response(kOk + "content-LENGTH: 002\r\n\r\nhi").body == "hi");
    Outcome empty = expect_response(kOk + "Content-Length: 0\r\n\r\n");
    CHECK(empty.last().framing == BodyFraming::Length);
    CHECK(empty.body.empty());

    const std::string first = kOk + "Content-Length: 5\r\n\r\nhello";
    Outcome followed = parse_every_way(first + "HTTP/1.1 204 No Content\r\n\r\n");
    CHECK(followed.done);
    CHECK(followed.body == "hello");
    CHECK(followed.used == first.size());
}

TEST_CASE("Content-Length: repeated or listed only if every value is the same; digits only; no overflow") {
    CHECK(expect_response(kOk + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello").body == "hello");
    CHECK(expect_response(kOk + "Content-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhello").body == "hello");
    expect_refusal(kOk + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "two different Content-Lengths");
    expect_refusal(kOk + "Content-Length: 5, 6\r\n\r\nhello!", "two different Content-Lengths");
    for (const char* value : {"abc", "-1", "+5", "", "5 5", "0x5", "5,", ",5", "5;", "1e3", "1234567890123456789",
                              "99999999999999999999999"}) {
        CAPTURE(value);
        expect_refusal(kOk + "Content-Length: " + value + "\r\n\r\n");
    }
    // 18 digits are a number; whether the body ever ends is the proxy's business.
    Outcome huge = parse_every_way(kOk + "Content-Length: 999999999999999999\r\n\r\nabc");
    CHECK(huge.error.empty());
    CHECK(huge.last().content_length == 999999999999999999u);
    CHECK(huge.body == "abc");
    CHECK_FALSE(huge.done);
}

TEST_CASE("Transfer-Encoding with Content-Length is refused, whatever the order") {
    const char* both = "both Transfer-Encoding and Content-Length";
    expect_refusal(kOk + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", both);
    expect_refusal(kOk + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", both);
    expect_refusal(kOk + "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello", both);
    expect_refusal(kOk + "Transfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n0\r\n\r\n", both);
}

TEST_CASE("Transfer-Encoding: chunked last frames the body; another final coding reads until close") {
    CHECK(expect_response(kOk + "Transfer-Encoding: Chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n").last().framing == BodyFraming::Chunked);
    CHECK(expect_response(kOk + "Transfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n").body == "x");
    CHECK(expect_response(kOk + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").done);
    for (const char* codings : {"gzip", "chunked, gzip", "chunked\r\nTransfer-Encoding: gzip", "chunked;x=1"}) {
        CAPTURE(codings);
        Outcome o = parse_every_way(kOk + "Transfer-Encoding: " + codings + "\r\n\r\n1\r\nx\r\n0\r\n\r\n", {.close = true});
        CHECK(o.error.empty());
        CHECK(o.last().framing == BodyFraming::UntilClose);
        CHECK_FALSE(o.last().keep_alive);
        CHECK(o.body == "1\r\nx\r\n0\r\n\r\n");  // passed on as it came
        CHECK(o.eof == 1);
    }
    expect_refusal(kOk + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", "chunked applied more than once");
    expect_refusal(kOk + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "chunked applied more than once");
    expect_refusal(kOk + "Transfer-Encoding:\r\n\r\n", "Transfer-Encoding without a coding");
    expect_refusal(kOk + "Transfer-Encoding: , \r\n\r\n", "Transfer-Encoding without a coding");
    expect_refusal("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "Transfer-Encoding in an HTTP/1.0 response");
}

TEST_CASE("neither length nor chunked: the body runs until the backend closes, and the connection goes with it") {
    const std::string input = kOk + "Connection: keep-alive\r\n\r\nuntil the end";
    Outcome closed = parse_every_way(input, {.close = true});
    CHECK(closed.error.empty());
    CHECK(closed.last().framing == BodyFraming::UntilClose);
    CHECK_FALSE(closed.last().keep_alive);
    CHECK(closed.body == "until the end");
    CHECK_FALSE(closed.done);
    CHECK(closed.eof == 1);
    CHECK(closed.used == input.size());
    Outcome open = parse_every_way(input);  // the backend has not closed yet: never done
    CHECK_FALSE(open.done);
    CHECK(open.body == "until the end");
    CHECK(parse_every_way(kOk + "\r\n", {.close = true}).eof == 1);  // an empty body
}

TEST_CASE("HEAD, 1xx, 204 and 304 have no body, whatever their fields say") {
    Options head{.head_request = true};
    for (const char* fields : {"Content-Length: 1234", "Transfer-Encoding: chunked", "", "Content-Length: 1, 2",
                               "Transfer-Encoding: chunked\r\nContent-Length: 5"}) {
        CAPTURE(fields);
        std::string f = *fields ? fields + "\r\n"s : "";
        Outcome o = expect_response(kOk + f + "\r\n", head);
        CHECK(o.last().framing == BodyFraming::None);
        CHECK(o.last().content_length == 0);
        CHECK(o.last().keep_alive);  // no body, so nothing to read until close
        for (const char* status : {"204 No Content", "304 Not Modified"}) {
            Outcome n = expect_response("HTTP/1.1 "s + status + "\r\n" + f + "\r\n");
            CHECK(n.last().framing == BodyFraming::None);
            CHECK(n.last().keep_alive);
        }
        Outcome interim = expect_response("HTTP/1.1 103 Early Hints\r\n" + f + "\r\nHTTP/1.1 204 No Content\r\n\r\n");
        CHECK(interim.heads[0].framing == BodyFraming::None);
    }
    // Whatever follows the head is not its body: it stays for the caller.
    const std::string not_modified = "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n";
    Outcome o = parse_every_way(not_modified + "hello");
    CHECK(o.done);
    CHECK(o.body.empty());
    CHECK(o.used == not_modified.size());
    CHECK(expect_response("HTTP/1.0 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n").done);  // ignored, not judged
}

TEST_CASE("interim responses, then the final one, on the same bytes") {
    Outcome o = expect_response("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    REQUIRE(o.heads.size() == 2);
    CHECK(o.heads[0].status == 100);
    CHECK(o.heads[0].bytes == 25);
    CHECK(o.heads[1].status == 200);
    CHECK(o.body == "hi");

    Outcome three = expect_response("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                                    "HTTP/1.1 100 Continue\n\n"
                                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
    REQUIRE(three.heads.size() == 3);
    CHECK(three.heads[0].headers[0].second == "</a.css>; rel=preload");
    CHECK(three.heads[1].status == 100);
    CHECK(three.heads[2].framing == BodyFraming::Chunked);
    CHECK(three.body == "ok");

    CHECK(expect_response("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", {.head_request = true})
              .heads.size() == 2);
    expect_refusal("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2OO OK\r\n\r\n", "malformed status line");

    // Directly: the parser is ready for the next head as soon as it has returned an interim one.
    std::string buf = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    ResponseParser parser;
    ResponseHead head;
    ParseResult first = parser.parse_head(buf, head);
    REQUIRE(first.complete());
    CHECK(head.status == 103);
    CHECK(parser.framing() == BodyFraming::None);
    std::string rest = buf.substr(first.consumed);
    ParseResult second = parser.parse_head(rest, head);
    REQUIRE(second.complete());
    CHECK(head.status == 200);
    std::string body;
    BodyStep step = parser.parse_body(std::string_view(rest).substr(second.consumed), body);
    CHECK(step.done);
    CHECK(body == "ok");
}

TEST_CASE("101 Switching Protocols comes back like any interim head; what follows is for the caller to judge") {
    std::string buf = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello";
    ResponseParser parser;
    ResponseHead head;
    ParseResult r = parser.parse_head(buf, head);
    REQUIRE(r.complete());
    CHECK(head.status == 101);
    CHECK(r.consumed == buf.find('\x81'));
    CHECK(parser.framing() == BodyFraming::None);
}

TEST_CASE("keep-alive: HTTP/1.1 unless Connection: close; HTTP/1.0 only with keep-alive; never until close") {
    struct Case {
        std::string response;
        bool keep_alive;
    };
    const Case cases[] = {
        {kOk + "Content-Length: 0\r\n\r\n", true},
        {kOk + "Connection: close\r\nContent-Length: 0\r\n\r\n", false},
        {kOk + "Connection: foo, CLOSE\r\nContent-Length: 0\r\n\r\n", false},
        {kOk + "Connection: foo\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false},
        {kOk + "Connection: closed\r\nContent-Length: 0\r\n\r\n", true},
        {kOk + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true},
        {kOk + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", false},
        {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
        {"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", true},
        {"HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n", false},
        {"HTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n", true},
        {"HTTP/1.1 304 Not Modified\r\n\r\n", true},
    };
    for (const Case& c : cases) {
        CAPTURE(describe(c.response));
        CHECK(expect_response(c.response).last().keep_alive == c.keep_alive);
    }
    CHECK_FALSE(parse_every_way("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nbody", {.close = true}).last().keep_alive);
    CHECK(expect_response(kOk + "\r\n", {.head_request = true}).last().keep_alive);  // HEAD: no body to run until close
}

TEST_CASE("chunked: several chunks, hex in both cases, extensions, trailers dropped") {
    Outcome o = expect_response(kChunkedHead + "a\r\n" + std::string(10, 'A') + "\r\n" +  // lower-case hex
                                "1A;name=value;quoted=\"a;b\"\r\n" + std::string(26, 'b') + "\r\n" +  // upper case, extensions
                                "5 ; ext\r\nhello\r\n" +                                         // whitespace before ';'
                                "5 \r\nworld\r\n" +                                             // and before the line end
                                "000000000000001\r\n!\r\n" +                                    // 15 digits
                                "0;last\r\nTrailer-One: 1\r\nTrailer-Two: x y\r\n\r\n");
    CHECK(o.last().framing == BodyFraming::Chunked);
    CHECK(o.body == std::string(10, 'A') + std::string(26, 'b') + "helloworld!");
    CHECK(o.last().headers.size() == 1);  // trailers are not added to the head
    CHECK(expect_response(kChunkedHead + "0\r\n\r\n").body.empty());

    const std::string one = kChunkedHead + "2\r\nhi\r\n0\r\n\r\n";
    Outcome followed = parse_every_way(one + "HTTP/1.1 200 OK\r\n");
    CHECK(followed.done);
    CHECK(followed.used == one.size());
}

TEST_CASE("chunk sizes: 1*HEXDIG, at most 15 of them, then nothing but extensions") {
    for (const char* size : {"0x10", "1_0", "+5", "-5", " 5", "\t5", "", "zz", ";ext", "5 x", "5\tx", "5\rx", "5;\x01",
                             "5;a\x7f", "0000000000000005", "1234567890abcdef", "fffffffffffffffff"}) {
        CAPTURE(describe(size));
        expect_refusal(kChunkedHead + size + "\r\nhello\r\n0\r\n\r\n", "invalid chunk size");
    }
    // The size line is capped at 1 KiB (absurd extensions), whether it arrives in one piece or not.
    std::string ext_1024 = "5;" + std::string(kMaxChunkLine - 3, 'e') + "\r";  // the bytes before the LF
    CHECK(expect_response(kChunkedHead + ext_1024 + "\nhello\r\n0\r\n\r\n").body == "hello");
    expect_refusal(kChunkedHead + "5;e" + ext_1024.substr(2) + "\nhello\r\n0\r\n\r\n", "chunk-size line longer than 1 KiB");
    expect_refusal(kChunkedHead + "5;" + std::string(kMaxChunkLine, 'e'), "chunk-size line longer than 1 KiB");
}

TEST_CASE("chunk data must be followed by CRLF (or LF), right after it") {
    const char* why = "chunk data not followed by CRLF";
    expect_refusal(kChunkedHead + "5\r\nhelloX\r\n0\r\n\r\n", why);
    expect_refusal(kChunkedHead + "5\r\nhello\rX\r\n0\r\n\r\n", why);
    expect_refusal(kChunkedHead + "5\r\nhello world\r\n0\r\n\r\n", why);
    expect_refusal(kChunkedHead + "5\r\nhel\r\n0\r\n\r\n", why);  // shorter than said: the data runs over
    expect_refusal(kChunkedHead + "5\r\nhello\r\r\n0\r\n\r\n", why);
}

TEST_CASE("trailers: dropped, but well-formed as header fields, and within 64 KiB") {
    const char* malformed = "malformed trailer field";
    expect_refusal(kChunkedHead + "0\r\nno colon\r\n\r\n", malformed);
    expect_refusal(kChunkedHead + "0\r\nT: a\x01z\r\n\r\n", malformed);
    expect_refusal(kChunkedHead + "0\r\nT: a\rb\r\n\r\n", malformed);
    expect_refusal(kChunkedHead + "0\r\nT : a\r\n\r\n", malformed);
    expect_refusal(kChunkedHead + "0\r\nT: a\r\n folded\r\n\r\n", malformed);
    expect_refusal(kChunkedHead + "0\r\n\rX\r\n\r\n", malformed);
    // The bytes after the last chunk, through the blank line, like a head at most 64 KiB.
    auto trailers = [](size_t bytes) { return kChunkedHead + "0\r\nT: " + std::string(bytes - 7, 't') + "\r\n\r\n"; };
    CHECK(expect_response(trailers(kMaxResponseHead)).body.empty());
    expect_refusal(trailers(kMaxResponseHead + 1), "trailer section larger than 64 KiB");
    expect_refusal(kChunkedHead + "0\r\nT: " + std::string(kMaxResponseHead, 't'), "trailer section larger than 64 KiB");
}

TEST_CASE("end_of_input: completes a body that runs until close, and nothing cut short") {
    auto eof = [](const std::string& input) { return parse_every_way(input, {.close = true}).eof; };
    CHECK(eof(kOk + "\r\nall of it") == 1);
    CHECK(eof(kOk + "Content-Length: 10\r\n\r\nshort") == 0);
    CHECK(eof(kOk + "Content-Length: 10\r\n\r\n") == 0);
    CHECK(eof(kChunkedHead + "5\r\nhel") == 0);
    CHECK(eof(kChunkedHead + "5\r\nhello\r\n") == 0);
    CHECK(eof(kChunkedHead + "0\r\n") == 0);             // the trailers' blank line is missing
    CHECK(eof(kChunkedHead + "0\r\n\r") == 0);
    CHECK(eof("HTTP/1.1 200 OK\r\nContent-Le") == 0);    // in the head
    CHECK(eof("HTTP/1.1 100 Continue\r\n\r\n") == 0);    // an interim head is not the response
    CHECK(eof("") == 0);

    ResponseParser parser;
    ResponseHead head;
    std::string body;
    std::string cut = kOk + "Content-Length: 10\r\n\r\n";
    REQUIRE(parser.parse_head(cut, head).complete());
    CHECK_FALSE(parser.end_of_input());
    BodyStep after = parser.parse_body("more"sv, body);  // cut short is final: it fails from then on
    CHECK(after.error);
    CHECK(std::string_view(after.why) == "the backend closed the connection before the response ended");

    ResponseParser whole;
    std::string done = kOk + "Content-Length: 2\r\n\r\nok";
    ParseResult r = whole.parse_head(done, head);
    REQUIRE(r.complete());
    CHECK(whole.parse_body(std::string_view(done).substr(r.consumed), body).done);
    CHECK(whole.end_of_input());  // the response was whole before the close
}

TEST_CASE("after an error every later call gives the same error") {
    std::string buf = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
    ResponseParser parser;
    ResponseHead head;
    ParseResult first = parser.parse_head(buf, head);
    REQUIRE(first.error());
    buf = kOk + "Content-Length: 0\r\n\r\n";  // even when the bytes would now make a good response
    ParseResult again = parser.parse_head(buf, head);
    CHECK(again.error());
    CHECK(std::string_view(again.why) == first.why);
    std::string body;
    BodyStep step = parser.parse_body("x"sv, body);
    CHECK(step.error);
    CHECK(std::string_view(step.why) == first.why);
    CHECK_FALSE(parser.end_of_input());

    ResponseParser chunked;
    REQUIRE(chunked.parse_head(kChunkedHead, head).complete());
    BodyStep bad = chunked.parse_body("zz\r\n"sv, body);
    REQUIRE(bad.error);
    CHECK(std::string_view(chunked.parse_body("0\r\n\r\n"sv, body).why) == bad.why);
}

TEST_CASE("calls out of order are refused and change nothing") {
    ResponseParser parser;
    ResponseHead head;
    std::string body;
    CHECK(parser.parse_body("hello"sv, body).error);
    std::string buf = kOk + "Content-Length: 5\r\n\r\nhello";
    ParseResult r = parser.parse_head(buf, head);
    REQUIRE(r.complete());
    CHECK(parser.parse_head(buf, head).error());  // the final head was had already
    BodyStep step = parser.parse_body(std::string_view(buf).substr(r.consumed), body);
    CHECK(step.done);
    CHECK(step.consumed == 5);
    CHECK(body == "hello");
    CHECK(parser.parse_body("more"sv, body).done);  // done stays done, and takes nothing
    CHECK(body == "hello");
}

TEST_CASE("resuming: bytes already searched are not searched again") {
    // Shown by breaking the contract on purpose: a line end appears inside bytes the parser has
    // already looked at. A parser that searched from the start again would stop there.
    std::string buf = kOk + "Content-Length: 0\r\nX: bbbbbbbb";
    ResponseParser parser;
    ResponseHead head;
    CHECK(parser.parse_head(buf, head).incomplete());
    buf[buf.size() - 4] = '\n';
    buf[buf.size() - 3] = '\n';
    buf += "\r\n\r\n";
    ParseResult r = parser.parse_head(buf, head);
    REQUIRE(r.complete());
    CHECK(r.consumed == buf.size());

    // The same for a chunk-size line cut short: the part already searched holds no line end.
    ResponseParser chunked;
    REQUIRE(chunked.parse_head(kChunkedHead, head).complete());
    std::string body, line = "5;aaaa";
    BodyStep step = chunked.parse_body(line, body);
    CHECK(step.consumed == 0);
    CHECK_FALSE(step.error);
    line[3] = '\n';  // "5;a\naa": had it looked again, "5;a" would be a good size line
    line += "\r\nhello\r\n0\r\n\r\n";
    CHECK(std::string_view(chunked.parse_body(line, body).why) == "invalid chunk size");
}

TEST_CASE("a head trickled one byte at a time costs no more than one given whole") {
    // 64 KiB, a byte per call: were each call to search from the start, that is 2 GiB of searching.
    // parse_every_way's byte-at-a-time feed does this for every input; here it is on its own.
    std::string input = head_of_size(kMaxResponseHead);
    ResponseParser parser;
    ResponseHead head;
    ParseResult r;
    for (size_t n = 1; n <= input.size(); ++n) {
        r = parser.parse_head(std::string_view(input).substr(0, n), head);
        if (!r.incomplete()) break;
    }
    REQUIRE(r.complete());
    CHECK(r.consumed == input.size());
    CHECK(head.header_count == 2);
}

}  // TEST_SUITE("response parser")
