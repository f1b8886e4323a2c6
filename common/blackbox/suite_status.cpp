// The shared black-box suite, part 6: GET /status, the page every chapter keeps about itself.
// The counters are checked exactly, as differences between two pages read around a known sequence
// of requests, so that nothing the harness or a backend did before counts.
#include "harness.hpp"
#include "json.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

using namespace one::test;

namespace {

constexpr const char* kRefusals[] = {"503_fd_setsize", "503_max_connections", "503_no_thread", "503_queue_full",
                                     "503_out_of_descriptors", "accept_out_of_descriptors", "400", "408", "413",
                                     "414", "431", "501", "505", "gateway", "other"};
constexpr const char* kStates[] = {"reading", "writing", "idle", "closing"};

Json status_page(int port) {
    Reply reply = one::test::exchange(port, get("/status?format=json"));  // not std::exchange, which ADL finds too
    REQUIRE(reply.status == 200);
    CHECK(reply.header("Content-Type") == "application/json");
    std::optional<Json> page = parse_json(reply.body);
    INFO(reply.body);
    REQUIRE(page);
    return *page;
}

int64_t at(const Json& page, std::initializer_list<std::string> path) {
    std::optional<int64_t> n = page.number_at(path);
    REQUIRE(n);
    return *n;
}

// The numbers a slot has, as "accepted", "refused.400", ..., for comparing totals with workers.
std::vector<std::pair<std::string, int64_t>> counters_of(const Json& totals) {
    std::vector<std::pair<std::string, int64_t>> out;
    for (const char* name : {"accepted", "requests"}) out.emplace_back(name, at(totals, {name}));
    for (const char* name : kRefusals) out.emplace_back(std::string("refused.") + name, at(totals, {"refused", name}));
    for (const char* name : {"in", "out"}) out.emplace_back(std::string("bytes.") + name, at(totals, {"bytes", name}));
    for (const char* name : {"turns", "events"}) out.emplace_back(std::string("loop.") + name, at(totals, {"loop", name}));
    return out;
}

}  // namespace

TEST_SUITE("status") {

TEST_CASE("GET /status counts a known sequence of requests exactly") {
    ServerProcess server;
    Json before = status_page(server.port());
    size_t sent = 0;
    {
        Client one(server.port());  // three requests, one after another, on one connection
        for (int i = 0; i < 3; ++i) {
            REQUIRE(one.send(get("/hello")));
            CHECK(one.read_reply().status == 200);
        }
        sent += 3 * get("/hello").size();
    }
    {
        Client pipelined(server.port());  // a pipelined pair
        REQUIRE(pipelined.send(get("/hello") + get("/echo-is-post-only")));
        CHECK(pipelined.read_reply().status == 200);
        CHECK(pipelined.read_reply().status == 404);
        sent += get("/hello").size() + get("/echo-is-post-only").size();
    }
    {
        Client refused(server.port());  // a header line without a colon: 400
        std::string bad = "GET /hello HTTP/1.1\r\nHost: t\r\nno colon here\r\n\r\n";
        REQUIRE(refused.send(bad));
        CHECK(refused.read_reply().status == 400);
        sent += bad.size();
    }
    Json after = status_page(server.port());
    sent += get("/status?format=json").size();  // this page's own request, counted before it was written

    CHECK(at(after, {"total", "accepted"}) - at(before, {"total", "accepted"}) == 4);
    // 3 + 2, and the second /status itself; the refused one is a refusal, not a request
    CHECK(at(after, {"total", "requests"}) - at(before, {"total", "requests"}) == 6);
    for (const char* name : kRefusals) {
        CAPTURE(name);
        CHECK(at(after, {"total", "refused", name}) - at(before, {"total", "refused", name}) == (name == std::string("400")));
    }
    int64_t bytes_in = at(after, {"total", "bytes", "in"}) - at(before, {"total", "bytes", "in"});
    if (has_backend()) CHECK(bytes_in >= static_cast<int64_t>(sent));  // a proxy also reads its backends' answers
    else CHECK(bytes_in == static_cast<int64_t>(sent));
    CHECK(at(after, {"total", "bytes", "out"}) > at(before, {"total", "bytes", "out"}));
}

TEST_CASE("every connection leaves the gauges when it closes, however it ended") {
    ServerProcess server;
    {  // one at a time: chapter 01 serves one client until it leaves
        Client kept(server.port());
        REQUIRE(kept.send(get("/hello")));
        CHECK(kept.read_reply().status == 200);
    }
    {
        Client pipelined(server.port());
        REQUIRE(pipelined.send(get("/hello") + get("/hello")));
        CHECK(pipelined.read_reply().status == 200);
        CHECK(pipelined.read_reply().status == 200);
    }
    {
        Client refused(server.port());
        REQUIRE(refused.send("GET /hello HTTP/1.1\r\nHost: t\r\nno colon here\r\n\r\n"));
        CHECK(refused.read_reply().status == 400);
    }
    {
        Client half(server.port());
        REQUIRE(half.send("GET /hello HTTP/1.1\r\nHo"));  // half a request, then a reset
        half.reset();
    }
    // The server sees the closes on its next turns: look until only the asker is left.
    int64_t open = -1;
    Json page;
    for (int i = 0; i < 250 && open != 1; ++i) {
        if (i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        page = status_page(server.port());
        open = at(page, {"total", "connections", "open"});
    }
    CHECK(open == 1);
    CHECK(at(page, {"total", "connections", "writing"}) == 1);
    for (const char* state : {"reading", "idle", "closing"}) {
        CAPTURE(state);
        CHECK(at(page, {"total", "connections", state}) == 0);
    }
}

TEST_CASE("the JSON page has every field, and the connection asking is counted as writing") {
    ServerProcess server;
    Json page = status_page(server.port());
    CHECK(page.get("chapter"));
    if (page.get("chapter")) CHECK(page.get("chapter")->text == chapter_name());
    REQUIRE(page.get("model"));
    CHECK(!page.get("model")->text.empty());
    REQUIRE(page.get("total"));
    const Json& total = *page.get("total");
    int64_t open = at(total, {"connections", "open"});
    int64_t by_state = 0;
    for (const char* state : kStates) by_state += at(total, {"connections", state});
    CHECK(open == by_state);
    CHECK(open >= 1);
    CHECK(at(total, {"connections", "writing"}) >= 1);  // this one, being answered
    CHECK(counters_of(total).size() == 2 + std::size(kRefusals) + 4);
    REQUIRE(total.get("model_numbers"));
    CHECK(total.get("model_numbers")->kind == Json::Kind::Object);
    REQUIRE(page.get("workers"));
    CHECK(page.get("workers")->kind == Json::Kind::Array);
}

TEST_CASE("the text page says the same in lines, and only GET and HEAD may ask") {
    ServerProcess server;
    Reply reply = exchange(server.port(), get("/status"));
    CHECK(reply.status == 200);
    CHECK(reply.header("Content-Type") == "text/plain; charset=utf-8");
    CHECK(reply.body.rfind("one-loop " + chapter_name() + ": ", 0) == 0);
    for (const char* line : {"\nconnections  ", "\naccepted     ", "\nrequests     1\n", "\nrefused      none\n", "\nbytes        "}) {
        CAPTURE(line);
        CHECK(reply.body.find(line) != std::string::npos);
    }
    CHECK(exchange(server.port(), "POST /status HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n").status == 405);
}

TEST_CASE("with several workers the page sums them all, and lists each with its pid") {
    ServerProcess server;
    for (int i = 0; i < 24; ++i) CHECK(exchange(server.port(), get("/hello")).status == 200);  // spread over them
    Json page = status_page(server.port());
    REQUIRE(page.get("workers"));
    const std::vector<Json>& workers = page.get("workers")->items;
    std::vector<pid_t> children = server.children();
    if (children.empty()) {  // one process: no worker list
        CHECK(workers.empty());
        return;
    }
    CHECK(workers.size() == children.size());
    std::set<pid_t> pids;
    int busy_workers = 0;
    std::vector<std::pair<std::string, int64_t>> summed = counters_of(*page.get("total"));
    for (auto& counter : summed) counter.second = 0;
    for (const Json& worker : workers) {
        pids.insert(static_cast<pid_t>(at(worker, {"pid"})));
        CHECK(at(worker, {"restarts"}) == 0);
        std::vector<std::pair<std::string, int64_t>> own = counters_of(worker);
        for (size_t i = 0; i < own.size(); ++i) summed[i].second += own[i].second;
        busy_workers += at(worker, {"accepted"}) > 0;
    }
    CHECK(pids == std::set<pid_t>(children.begin(), children.end()));
    CHECK(summed == counters_of(*page.get("total")));
    CHECK(at(*page.get("total"), {"accepted"}) >= 25);
    if (children.size() > 1) CHECK(busy_workers >= 2);  // 25 connections all to one of two: 1 in 16 million
}

}  // TEST_SUITE
