// loadgen's flags: good and bad command lines, source address ranges, the fd budget.
#include "common/loadgen/options.hpp"

#include <doctest/doctest.h>

using namespace one::loadgen;

namespace {

// Parses `line` as loadgen would (without the program name); throws CLI::ParseError on bad flags.
Options parse(const std::string& line) {
    CLI::App app;
    Options options;
    add_options(app, options);
    app.parse(line, false);
    finish_options(options);
    return options;
}

}  // namespace

TEST_SUITE("loadgen options") {
    TEST_CASE("defaults: closed loop against 127.0.0.1:8001 GET /hello") {
        Options o = parse("");
        CHECK(o.host == "127.0.0.1");
        CHECK(o.port == 8001);
        CHECK(o.connections == 10);
        CHECK(o.pipeline == 1);
        CHECK_FALSE(o.open_loop());
        CHECK(o.duration_s == 5);
        CHECK(o.warmup_s == 1);
        CHECK(o.path == "/hello");
        CHECK(o.method == "GET");
        CHECK(o.timeout_ms == 5000);
        CHECK(o.slow_interval_ms == 100);
        CHECK(o.expect_status == 200);
        CHECK(o.source_ips.empty());
    }

    TEST_CASE("a full command line") {
        Options o = parse("--target 127.0.0.2:8005 -c 50 --pipeline 8 --rate 20000 --idle 1000 --slow 3 "
                          "--duration 0.5 --warmup 0.25 --requests 100 --path /echo --method POST --body hi "
                          "--threads 2 --timeout 2000 --expect-status 201 --json out.json");
        CHECK(o.host == "127.0.0.2");
        CHECK(o.port == 8005);
        CHECK(o.connections == 50);
        CHECK(o.pipeline == 8);  // open loop with pipelining is allowed: up to 8 scheduled requests in flight
        CHECK(o.open_loop());
        CHECK(o.rate == 20000);
        CHECK(o.idle == 1000);
        CHECK(o.slow == 3);
        CHECK(o.duration_s == 0.5);
        CHECK(o.warmup_s == 0.25);
        CHECK(o.requests == 100);
        CHECK(o.body == "hi");
        CHECK(o.threads == 2);
        CHECK(o.json_path == "out.json");
    }

    TEST_CASE("--host and --port, and localhost") {
        Options o = parse("--host localhost --port 9000");
        CHECK(o.host == "127.0.0.1");
        CHECK(o.port == 9000);
    }

    TEST_CASE("--source-ips: ranges, lists, and both") {
        Options o = parse("--source-ips 127.0.0.1-127.0.0.8");
        REQUIRE(o.source_ips.size() == 8);
        CHECK(format_ipv4(o.source_ips.front()) == "127.0.0.1");
        CHECK(format_ipv4(o.source_ips.back()) == "127.0.0.8");
        auto mixed = parse_source_ips("127.0.0.9,127.0.1.254-127.0.2.1");
        REQUIRE(mixed.size() == 5);
        CHECK(format_ipv4(mixed[0]) == "127.0.0.9");
        CHECK(format_ipv4(mixed[2]) == "127.0.1.255");  // ranges cross the third octet
        CHECK(format_ipv4(mixed[4]) == "127.0.2.1");
    }

    TEST_CASE("bad --source-ips are refused with the flag's name") {
        for (const char* bad : {"127.0.0.8-127.0.0.1", "10.0.0.1-10.0.0.4", "127.0.0.1-10.0.0.1", "localhostt",
                                "127.0.0.1-", "127.0.0.300", ","}) {
            CAPTURE(bad);
            CHECK_THROWS_AS(parse_source_ips(bad), CLI::ValidationError);
        }
        CHECK_THROWS_WITH_AS(parse("--source-ips 127.0.0.4-127.0.0.2"), doctest::Contains("--source-ips"),
                             CLI::ValidationError);
    }

    TEST_CASE("targets: loopback only, HOST:PORT, not together with --host or --port") {
        CHECK_THROWS_AS(parse("--target 10.1.2.3:80"), CLI::ValidationError);
        CHECK_THROWS_AS(parse("--host 192.168.1.1"), CLI::ValidationError);
        CHECK_THROWS_AS(parse("--target 127.0.0.1"), CLI::ValidationError);
        CHECK_THROWS_AS(parse("--target 127.0.0.1:0"), CLI::ValidationError);
        CHECK_THROWS_AS(parse("--target 127.0.0.1:70000"), CLI::ValidationError);
        CHECK_THROWS_AS(parse("--target 127.0.0.1:80x"), CLI::ValidationError);
        CHECK_THROWS_AS(parse("--target example.com:80"), CLI::ValidationError);
        CHECK_THROWS_AS(parse("--target 127.0.0.1:8001 --port 8002"), CLI::ExcludesError);
    }

    TEST_CASE("out-of-range numbers and unknown flags") {
        for (const char* bad : {"--pipeline 0", "--pipeline 5000", "--rate -1", "--duration 0", "--warmup -1",
                                "--threads 0", "--timeout 0", "--connections -1", "--expect-status 42",
                                "--slow-interval 0", "--connections many", "--tail -1", "--tail 601", "--no-such-flag"}) {
            CAPTURE(bad);
            CHECK_THROWS_AS(parse(bad), CLI::ParseError);
        }
    }

    TEST_CASE("combinations that make no sense") {
        CHECK_THROWS_AS(parse("--connections 0"), CLI::ValidationError);  // nothing to do
        CHECK_THROWS_AS(parse("--connections 0 --idle 5 --rate 100"), CLI::ValidationError);
        CHECK_THROWS_AS(parse("--connections 0 --slow 5 --requests 10"), CLI::ValidationError);
        CHECK(parse("--connections 0 --idle 5").idle == 5);  // a crowd alone is fine
        CHECK_THROWS_AS(parse("--close --pipeline 4"), CLI::ValidationError);
        CHECK(parse("--close").close_each);
    }

    TEST_CASE("the request line stays one line") {
        CHECK_THROWS_AS(parse("--path hello"), CLI::ValidationError);
        CHECK_THROWS_AS(parse("--path \"/a b\""), CLI::ValidationError);
        CHECK_THROWS_AS(parse("--method get"), CLI::ValidationError);
        CHECK(parse("--method HEAD").method == "HEAD");
    }

    TEST_CASE("the fd limit caps idle connections and says so") {
        Options o = parse("--connections 10 --idle 30000");
        FdBudget budget = plan_fds(20000, o);
        CHECK(budget.idle == 19973);  // 20000 - 16 kept back - 1 epoll - 10 busy
        CHECK(budget.limited_by == "fd limit 20000 caps idle connections at 19973 (asked 30000)");
        CHECK(budget.error.empty());
        CHECK(plan_fds(1'000'000, o).limited_by.empty());
        CHECK(plan_fds(1'000'000, o).idle == 30000);
        CHECK_FALSE(plan_fds(20, o).error.empty());  // not even the busy ones fit
    }
}
