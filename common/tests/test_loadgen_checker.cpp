// loadgen's response checker: good responses in every framing, cut at every byte, and the bad ones.
#include "common/loadgen/response_checker.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace one::loadgen;

namespace {

const std::string kHello =
    "HTTP/1.1 200 OK\r\nServer: one-loop\r\nDate: Sun, 22 Nov 2026 07:23:33 GMT\r\nContent-Type: text/plain\r\n"
    "Content-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, World!";

const std::string kChunked =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nHello\r\n8;name=value\r\n, World!\r\n0\r\nX-Trailer: yes\r\n\r\n";

struct Result {
    Outcome outcome = Outcome::Partial;
    size_t used = 0;  // bytes taken in all, over every piece
    bool keep_alive = true;
    int status = 0;
};

// Feeds `pieces` in order to a fresh checker, stopping where a response ends.
Result check_pieces(const std::vector<std::string>& pieces, int expected = 200, bool head = false) {
    ResponseChecker checker;
    checker.start(expected, head);
    Result r;
    for (const std::string& piece : pieces) {
        Step step = checker.feed({piece.data(), piece.size()});
        r.used += step.used;
        r.outcome = step.outcome;
        if (step.outcome != Outcome::Partial) break;
    }
    r.keep_alive = checker.keep_alive();
    r.status = checker.status();
    return r;
}

Result check(const std::string& bytes, int expected = 200, bool head = false) {
    return check_pieces({bytes}, expected, head);
}

// Cut in two at every byte, and one byte at a time: the verdict, and where a good response ends,
// must not depend on how the bytes were read. (Whole lines take a faster path than cut ones.)
void check_every_cut(const std::string& bytes, Outcome expected_outcome) {
    size_t expected_used = expected_outcome == Outcome::Malformed ? 0 : check(bytes).used;
    for (size_t cut = 0; cut <= bytes.size(); ++cut) {
        CAPTURE(cut);
        Result r = check_pieces({bytes.substr(0, cut), bytes.substr(cut)});
        CHECK(r.outcome == expected_outcome);
        if (expected_used) CHECK(r.used == expected_used);
    }
    std::vector<std::string> bytewise;
    for (char c : bytes) bytewise.emplace_back(1, c);
    Result r = check_pieces(bytewise);
    CHECK(r.outcome == expected_outcome);
    if (expected_used) CHECK(r.used == expected_used);
}

Outcome outcome_of(const std::string& bytes) { return check(bytes).outcome; }

}  // namespace

TEST_SUITE("loadgen response checker") {
    TEST_CASE("our servers' response: good, whole, keep-alive") {
        Result r = check(kHello);
        CHECK(r.outcome == Outcome::Good);
        CHECK(r.used == kHello.size());
        CHECK(r.status == 200);
        CHECK(r.keep_alive);
    }

    TEST_CASE("cut at every byte, the verdict is the same") {
        check_every_cut(kHello, Outcome::Good);
        check_every_cut(kChunked, Outcome::Good);
        check_every_cut("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!", Outcome::WrongStatus);
        check_every_cut("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", Outcome::Malformed);
        check_every_cut("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", Outcome::Malformed);
    }

    TEST_CASE("pipelined responses: it stops at the end of the first") {
        std::string two = kHello + kChunked;
        ResponseChecker checker;
        checker.start(200, false);
        Step first = checker.feed({two.data(), two.size()});
        CHECK(first.outcome == Outcome::Good);
        CHECK(first.used == kHello.size());
        checker.start(200, false);
        Step second = checker.feed({two.data() + first.used, two.size() - first.used});
        CHECK(second.outcome == Outcome::Good);
        CHECK(second.used == kChunked.size());
    }

    TEST_CASE("chunked, with extensions and trailers, is framed to its last CRLF") {
        Result r = check(kChunked + "HTTP/1.1 200");
        CHECK(r.outcome == Outcome::Good);
        CHECK(r.used == kChunked.size());
        CHECK(r.keep_alive);
        CHECK(outcome_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n") == Outcome::Good);
        CHECK(outcome_of("HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n") == Outcome::Good);
    }

    TEST_CASE("close-delimited: the body runs to EOF") {
        std::string bytes = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome body";
        ResponseChecker checker;
        checker.start(200, false);
        Step step = checker.feed({bytes.data(), bytes.size()});
        CHECK(step.outcome == Outcome::Partial);
        CHECK(step.used == bytes.size());
        CHECK(checker.finish_at_eof() == Outcome::Good);
        CHECK_FALSE(checker.keep_alive());
        // A transfer coding other than chunked also runs to the close.
        checker.start(200, false);
        std::string gzip = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxyz";
        CHECK(checker.feed({gzip.data(), gzip.size()}).outcome == Outcome::Partial);
        CHECK(checker.finish_at_eof() == Outcome::Good);
    }

    TEST_CASE("responses without a body: HEAD, 204, 304, Content-Length 0") {
        std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n";
        Result r = check(head + "HTTP/1.1", 200, /*head=*/true);
        CHECK(r.outcome == Outcome::Good);
        CHECK(r.used == head.size());
        CHECK(check("HTTP/1.1 204 No Content\r\n\r\n", 204).outcome == Outcome::Good);
        CHECK(check("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", 304).outcome == Outcome::Good);
        CHECK(outcome_of("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") == Outcome::Good);
    }

    TEST_CASE("100 Continue is skipped; the real response counts") {
        std::string bytes = "HTTP/1.1 100 Continue\r\n\r\n" + kHello;
        Result r = check(bytes);
        CHECK(r.outcome == Outcome::Good);
        CHECK(r.used == bytes.size());
    }

    TEST_CASE("another status is WrongStatus, still framed, so the connection can go on") {
        std::string not_found = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";
        Result r = check(not_found + "HTTP/1.1");
        CHECK(r.outcome == Outcome::WrongStatus);
        CHECK(r.status == 404);
        CHECK(r.used == not_found.size());
        CHECK(check(not_found, 404).outcome == Outcome::Good);
    }

    TEST_CASE("keep-alive rules: Connection: close, HTTP/1.0") {
        CHECK_FALSE(check("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keep_alive);
        CHECK_FALSE(check("HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\nContent-Length: 0\r\n\r\n").keep_alive);
        CHECK_FALSE(check("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
        CHECK(check("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
        CHECK(check("HTTP/1.1 200 OK\r\ncontent-LENGTH: 2\r\n\r\nok").outcome == Outcome::Good);
    }

    TEST_CASE("bad status lines are Malformed") {
        for (const char* bad : {"HTTP/2 200 OK\r\n", "HTTX/1.1 200 OK\r\n", "http/1.1 200 OK\r\n", "HTTP/1.x 200 OK\r\n",
                                "HTTP/1.1  200 OK\r\n", "HTTP/1.1 20 OK\r\n", "HTTP/1.1 2000 OK\r\n", "HTTP/1.1 099 Low\r\n",
                                "HTTP/1.1 600 High\r\n", "HTTP/1.1 200 OK\rX", "HTTP/1.1 200 O\x01K\r\n", "<html>\r\n"}) {
            CAPTURE(bad);
            check_every_cut(bad, Outcome::Malformed);
        }
        CHECK(outcome_of("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n") == Outcome::Good);  // an empty reason is fine
    }

    TEST_CASE("bad framing is Malformed") {
        for (const char* bad : {
                 "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
                 "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
                 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n",
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
                 "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n\r\n",
                 "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
                 "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
                 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\rx",
                 "HTTP/1.1 101 Switching Protocols\r\n\r\n",
             }) {
            CAPTURE(bad);
            check_every_cut(bad, Outcome::Malformed);
        }
        CHECK(outcome_of("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello") == Outcome::Good);
    }

    TEST_CASE("EOF: before any byte, and in the middle of a response") {
        ResponseChecker checker;
        checker.start(200, false);
        CHECK_FALSE(checker.started());
        CHECK(checker.finish_at_eof() == Outcome::Malformed);
        std::string cut = kHello.substr(0, kHello.size() - 3);
        CHECK(checker.feed({cut.data(), cut.size()}).outcome == Outcome::Partial);
        CHECK(checker.started());
        CHECK(checker.finish_at_eof() == Outcome::Malformed);
    }
}
