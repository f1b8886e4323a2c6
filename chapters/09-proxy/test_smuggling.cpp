// Chapter 09's own tests: request smuggling, through the proxy. Every payload of the corpus of
// published smuggling shapes (common/tests/smuggling.corpus, which names where each comes from)
// is sent to the proxy in front of a backend. What the front door refuses must reach no backend;
// what it accepts must reach the backend as one request whose body is the one the front door
// read, framed by Content-Length, so that the backend cannot read it any other way.
#include "common/blackbox/harness.hpp"
#include "common/http_parser.hpp"
#include "common/tests/smuggling_corpus.hpp"
#include "fake_backend.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <optional>

using namespace one::test;
using namespace std::chrono_literals;

namespace {

std::vector<smuggling::Entry> corpus() {
    std::ifstream in(smuggling::kCorpusPath, std::ios::binary);
    REQUIRE_MESSAGE(in.is_open(), "cannot open " << smuggling::kCorpusPath << ": run the tests from the repository root");
    smuggling::CorpusReader reader;
    std::string error = reader.read(in);
    REQUIRE_MESSAGE(error.empty(), error);
    return reader.entries;
}

// The first request of `bytes` as the front door's parser reads it: its body, or nothing if refused.
std::optional<std::string> front_door_body(std::string bytes) {
    one::http::RequestParser parser;
    one::http::Request request;
    one::http::ParseResult r = parser.parse(bytes, request);
    if (!r.complete()) return std::nullopt;
    return std::string(request.body);
}

}  // namespace

TEST_SUITE("09 proxy: request smuggling") {

TEST_CASE("every published smuggling payload is refused before any backend, or passed on as exactly one framing") {
    FakeBackend backend([](const Seen&) { return ok("fine"); });
    ServerProcess proxy({{"--workers", "1", "--upstream", backend.address()}});
    size_t refused = 0, accepted = 0;
    for (const smuggling::Entry& e : corpus()) {
        INFO(smuggling::kCorpusPath, ":", e.line, ": \"", e.name, "\"");
        size_t seen_before = backend.seen().size();
        Client client(proxy.port(), 1000);
        client.send(e.bytes);
        client.shutdown_write();  // nothing more comes: an incomplete request ends here
        std::string answer;
        client.read_to_close(answer);
        std::this_thread::sleep_for(20ms);  // a forwarded request reaches the backend's thread
        std::vector<Seen> seen = backend.seen();
        std::vector<Seen> fresh(seen.begin() + static_cast<long>(seen_before), seen.end());
        std::optional<std::string> body = front_door_body(e.bytes);
        if (!e.expect.accept && e.known_gap.empty()) {
            ++refused;
            CHECK(answer.rfind("HTTP/1.1 " + std::to_string(e.expect.status), 0) == 0);
            CHECK(fresh.empty());  // nothing of a refused request reached the backend
        } else if (body) {
            ++accepted;
            // Passed on: the first request the backend read carries the body the front door read.
            REQUIRE(!fresh.empty());
            CHECK(fresh[0].body == *body);
            CHECK(fresh[0].header("transfer-encoding").empty());
        } else {
            CHECK(fresh.empty());  // a known gap refused with another status, or still incomplete: nothing passed on
        }
    }
    MESSAGE(refused << " payloads refused at the front door, " << accepted << " passed on in one framing");
    CHECK(refused > 0);
    CHECK(accepted > 0);
}

}  // TEST_SUITE
