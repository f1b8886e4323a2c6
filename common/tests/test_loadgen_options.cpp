// loadgen's flags: good and bad command lines, source address ranges, --mix, the fd budget.
#include "common/loadgen/options.hpp"

#include <doctest/doctest.h>

#include <algorithm>

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

// The same, from separate arguments, as a shell passes them: an empty one stays an argument.
Options parse_args(std::vector<std::string> args) {
    CLI::App app;
    Options options;
    add_options(app, options);
    std::reverse(args.begin(), args.end());  // CLI11 takes the vector last argument first
    app.parse(args);
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

    TEST_CASE("IPv6: ::1 by --host or as [::1]:PORT, written in brackets where a URL needs them") {
        Options o = parse("--target [::1]:9000");
        CHECK(o.host == "::1");
        CHECK(o.port == 9000);
        CHECK(host_and_port(o) == "[::1]:9000");
        CHECK(host_and_port(parse("--port 8001")) == "127.0.0.1:8001");
        CHECK(parse("--host ::1").host == "::1");
        CHECK_THROWS_WITH_AS(parse("--host ::1 --source-ips 127.0.0.1-127.0.0.2"), doctest::Contains("--source-ips"),
                             CLI::ValidationError);
        CHECK_THROWS_AS(parse("--target [2001:db8::1]:80"), CLI::ValidationError);  // not loopback
        CHECK_THROWS_AS(parse("--host ::"), CLI::ValidationError);
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

    TEST_CASE("--mix: entries in order, GET by default, shares from the weights") {
        Options o = parse("--mix /hello=95,/sleep?ms=50=5");
        CHECK(o.mix_text == "/hello=95,/sleep?ms=50=5");
        REQUIRE(o.mix.size() == 2);
        CHECK(o.mix[0].method == "GET");
        CHECK(o.mix[0].path == "/hello");
        CHECK(o.mix[0].body.empty());
        CHECK(o.mix[0].weight == 95);
        CHECK(o.mix[0].share == doctest::Approx(0.95));
        CHECK(o.mix[1].path == "/sleep?ms=50");  // the weight is after the LAST '='
        CHECK(o.mix[1].weight == 5);
        CHECK(o.mix[1].share == doctest::Approx(0.05));
        CHECK(o.mix[1].label() == "GET /sleep?ms=50");
        CHECK(o.seed == 1);
        CHECK(parse("").mix.empty());
    }

    TEST_CASE("--mix: decimal weights, methods, bodies with spaces and '=', spaces after commas") {
        auto mix = parse_mix("/hello=99.5,/sleep?ms=50=0.5");
        REQUIRE(mix.size() == 2);
        CHECK(mix[0].share == doctest::Approx(0.995));
        CHECK(mix[1].share == doctest::Approx(0.005));
        mix = parse_mix("POST /echo a=b c=d=3, HEAD /hello=1 ,PUT /x?k=v=0.25");
        REQUIRE(mix.size() == 3);
        CHECK(mix[0].method == "POST");
        CHECK(mix[0].path == "/echo");
        CHECK(mix[0].body == "a=b c=d");  // the body is all after the first space after the path
        CHECK(mix[0].weight == 3);
        CHECK(mix[1].method == "HEAD");
        CHECK(mix[1].path == "/hello");
        CHECK(mix[1].weight == 1);
        CHECK(mix[2].method == "PUT");
        CHECK(mix[2].path == "/x?k=v");
        CHECK(mix[2].body.empty());
        CHECK(mix[2].share == doctest::Approx(0.25 / 4.25));
        Options o = parse("--mix \"POST /echo hi there=1,/hello=2\" --seed 42");
        REQUIRE(o.mix.size() == 2);
        CHECK(o.mix[0].body == "hi there");
        CHECK(o.seed == 42);
    }

    TEST_CASE("a malformed --mix is refused, naming the entry") {
        const char* bad[][2] = {
            {"/a=1,/b", "'/b'"},                // no '='
            {"/a=0", "'/a=0'"},                 // weights are positive
            {"/a=-1", "'/a=-1'"},
            {"/a=x", "'/a=x'"},
            {"/a=1x", "'/a=1x'"},
            {"/a=", "'/a='"},
            {"/a=inf", "'/a=inf'"},
            {"/a=nan", "'/a=nan'"},
            {"a=1", "'a=1'"},                   // the path starts with '/'
            {"=1", "'=1'"},
            {"get /a=1", "'get /a=1'"},         // methods are upper case
            {"GET=1", "'GET=1'"},               // a method needs a path
            {"GET  /a=1", "'GET  /a=1'"},       // and one space before it
            {"GET a=1", "'GET a=1'"},
            {"/a=1,,/b=1", "entry 2 is empty"},
            {"/a=1,", "entry 2 is empty"},
            {",/a=1", "entry 1 is empty"},
        };
        for (auto& [spec, names] : bad) {
            CAPTURE(spec);
            CHECK_THROWS_WITH_AS(parse_mix(spec), doctest::Contains(names), CLI::ValidationError);
            CHECK_THROWS_WITH_AS(parse_mix(spec), doctest::Contains("--mix"), CLI::ValidationError);
        }
        CHECK_THROWS_AS(parse("--mix /a"), CLI::ValidationError);  // finish_options parses it
        CHECK_THROWS_WITH_AS(parse_args({"--mix", ""}), doctest::Contains("--mix: no entries"), CLI::ValidationError);
        CHECK_THROWS_WITH_AS(parse("--mix="), doctest::Contains("--mix"), CLI::ParseError);
        CHECK_THROWS_WITH_AS(parse_mix(""), doctest::Contains("entry 1 is empty"), CLI::ValidationError);
        std::string many = "/a=1";
        for (size_t i = 1; i <= kMaxMixEntries; ++i) many += ",/a=1";
        CHECK_THROWS_WITH_AS(parse_mix(many), doctest::Contains("at most"), CLI::ValidationError);
        CHECK_THROWS_WITH_AS(parse_mix("/a=1e308,/b=1e308"), doctest::Contains("total weight"), CLI::ValidationError);
    }

    TEST_CASE("--mix replaces --path, --method and --body: together they are refused, naming both flags") {
        for (const char* line : {"--mix /a=1 --path /b", "--path /b --mix /a=1", "--mix /a=1 --method POST",
                                 "--mix /a=1 --body hi", "--body hi --mix /a=1"}) {
            CAPTURE(line);
            std::string other = std::string(line).find("--path") != std::string::npos     ? "--path"
                                : std::string(line).find("--method") != std::string::npos ? "--method"
                                                                                          : "--body";
            CHECK_THROWS_WITH_AS(parse(line), doctest::Contains("--mix"), CLI::ExcludesError);
            CHECK_THROWS_WITH_AS(parse(line), doctest::Contains(other.c_str()), CLI::ExcludesError);
        }
        CHECK(parse("--mix /a=1 --pipeline 4 --rate 100").mix.size() == 1);  // everything else combines
    }

    TEST_CASE("--tls and its settings: defaults, and each value accepted") {
        Options plain = parse("");
        CHECK_FALSE(plain.tls);
        CHECK_FALSE(plain.tls_resume());
        Options o = parse("--tls");
        CHECK(o.tls);
        CHECK(o.tls_handshake == "resume");
        CHECK(o.tls_resume());
        CHECK(o.tls_version == "any");
        CHECK(o.tls_sni.empty());
        o = parse("--tls --tls-handshake full --tls-version 1.2 --tls-sni rsa.test --close");
        CHECK(o.tls_handshake == "full");
        CHECK_FALSE(o.tls_resume());
        CHECK(o.tls_version == "1.2");
        CHECK(o.tls_sni == "rsa.test");
        CHECK(o.close_each);  // one handshake per request
        CHECK(parse("--tls --tls-version 1.3").tls_version == "1.3");
        CHECK(parse("--tls --tls-sni localhost").tls_sni == "localhost");  // a name, though it means an address
    }

    TEST_CASE("TLS settings without --tls are refused, naming --tls") {
        for (const char* line : {"--tls-handshake full", "--tls-version 1.3", "--tls-sni example.test"}) {
            CAPTURE(line);
            CHECK_THROWS_WITH_AS(parse(line), doctest::Contains("--tls"), CLI::RequiresError);
        }
    }

    TEST_CASE("bad TLS values are refused, naming the flag") {
        const char* bad[][2] = {
            {"--tls --tls-handshake resumed", "--tls-handshake"},
            {"--tls --tls-handshake", "--tls-handshake"},
            {"--tls --tls-version 1.1", "--tls-version"},
            {"--tls --tls-version 1.0", "--tls-version"},
            {"--tls --tls-version tls1.3", "--tls-version"},
            {"--tls --tls-sni 127.0.0.1", "--tls-sni"},  // RFC 6066: host names only
            {"--tls --tls-sni ::1", "--tls-sni"},
            {"--tls --tls-sni a/b", "--tls-sni"},
        };
        for (auto& [line, flag] : bad) {
            CAPTURE(line);
            CHECK_THROWS_WITH_AS(parse(line), doctest::Contains(flag), CLI::ParseError);
        }
        CHECK_THROWS_AS(parse_args({"--tls", "--tls-sni", std::string(256, 'a')}), CLI::ValidationError);
        CHECK_THROWS_AS(parse("--tls --close --pipeline 2"), CLI::ValidationError);  // still no pipelining with --close
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
