// fuzz_parser: a libFuzzer target for the HTTP parser. Besides crashes (ASan, UBSan), it checks
// that feeding the input in pieces gives exactly what feeding it whole gives: the first two bytes
// choose the cut points, and the buffer is copied to a new place before every call, as a server's
// growing buffer moves.
//   make fuzz SECONDS=60
#include "common/http_parser.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using namespace one::http;

namespace {

struct Outcome {
    ParseStatus status;
    size_t consumed;
    int http_status;
    std::string fields;  // method, target, path, query, host, headers and body, when complete
};

std::string describe(const Request& r) {
    std::string s;
    for (std::string_view v : {r.method, r.target, r.path, r.query, r.host, r.body}) s.append(v).push_back('\0');
    for (const Header& h : r.headers()) s.append(h.name).append(":").append(h.value).push_back('\0');
    s += std::to_string(r.minor_version) + (r.keep_alive ? "k" : "c") + (r.chunked ? "t" : "f");
    return s;
}

Outcome outcome(const ParseResult& r, const Request& req) {
    return {r.status, r.consumed, r.http_status, r.complete() ? describe(req) : std::string()};
}

void fail(const char* what) {
    fprintf(stderr, "differential check failed: %s\n", what);
    abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    unsigned step = 1 + data[0] % 64;  // a cut every `step` bytes, jittered by the second byte
    unsigned jitter = data[1];
    std::string input(reinterpret_cast<const char*>(data) + 2, size - 2);
    size_t max_body = 1 << 16;

    std::string whole_buf = input;
    Request whole_req;
    RequestParser whole(max_body);
    Outcome expected = outcome(whole.parse(whole_buf, whole_req), whole_req);

    RequestParser pieces(max_body);
    Request req;
    std::string growing;
    Outcome got{};
    for (size_t at = 0; at < input.size();) {
        size_t cut = std::min(input.size(), at + step + (jitter = jitter * 73 + 11) % 7);
        growing.append(input, at, cut - at);
        at = cut;
        std::string moved = growing;  // a new address every call: offsets, not pointers, must carry over
        got = outcome(pieces.parse(moved, req), req);
        growing = moved;              // keep what the parser wrote (chunked bodies are decoded in place)
        if (got.status == ParseStatus::Incomplete) continue;
        if (got.status != expected.status || got.http_status != expected.http_status) fail("status differs");
        if (got.status == ParseStatus::Complete && (got.consumed != expected.consumed || got.fields != expected.fields))
            fail("complete request differs");
        return 0;
    }
    if (!input.empty() && got.status != expected.status) fail("final status differs");
    return 0;
}
