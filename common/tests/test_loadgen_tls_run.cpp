// loadgen --tls end to end: Workers against a small blocking TLS server in this process
// (tls_test_server.hpp). It checks counts that depend on the handshakes really happening: who
// resumed, how many, and what the server saw.
#include "common/loadgen/net.hpp"
#include "common/loadgen/report.hpp"
#include "common/loadgen/tls.hpp"
#include "common/loadgen/worker.hpp"
#include "tls_test_server.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <openssl/ssl.h>
#include <thread>
#include <vector>

using namespace one;
using namespace one::loadgen;
using namespace one::test_tls;

namespace {

Options tls_options(int port, const char* handshake, bool close_each) {
    Options o;
    o.port = port;
    o.connections = 1;
    o.timeout_ms = 2000;
    o.tls = true;
    o.tls_handshake = handshake;
    o.close_each = close_each;
    return o;
}

// A run measured from its start (no warm-up) until `requests` were answered, or `run.stop`.
// The 30 s are only a bound, for a run that goes wrong.
void start_timeline(SharedRun& run, uint64_t requests) {
    run.start_ns = run.window_start_ns = now_ns();
    run.window_end_ns = run.run_end_ns = run.start_ns + static_cast<int64_t>(30e9);
    run.request_limit = requests;
    run.go = true;
}

// `threads` workers sharing one client context, each with options.connections lines; their stats merged.
Stats run_workers(const Options& options, SharedRun& run, int threads = 1) {
    ClientContext tls(options);
    std::vector<std::unique_ptr<Worker>> workers;
    for (int t = 0; t < threads; ++t)
        workers.push_back(std::make_unique<Worker>(options, run, Share{t, threads, options.connections, 0, 0}, &tls));
    std::vector<std::thread> running;
    for (auto& w : workers) running.emplace_back([&w] { w->run(); });
    for (auto& t : running) t.join();
    Stats total;
    for (auto& w : workers) total.merge(w->stats);
    return total;
}

Stats run_for(const Options& options, uint64_t requests) {
    SharedRun run;
    start_timeline(run, requests);
    return run_workers(options, run);
}

std::string summary_of(const Options& options, const Stats& stats) {
    Report report;
    report.options = &options;
    report.stats = &stats;
    report.window_s = 1;
    char* text = nullptr;
    size_t size = 0;
    std::FILE* out = ::open_memstream(&text, &size);
    print_summary(out, report);
    std::fclose(out);
    std::string s(text, size);
    std::free(text);
    return s;
}

}  // namespace

TEST_SUITE("loadgen tls") {
    TEST_CASE("--close, resume: each line's first handshake is full, every later one resumes") {
        TlsServer server({});
        Stats s = run_for(tls_options(server.port, "resume", true), 20);
        CHECK(s.error_total() == 0);
        CHECK(s.requests == 20);
        CHECK(s.completed_total == s.requests);   // every response checked was a good one
        CHECK(server.answered.load() == s.requests);      // and the server answered exactly those
        CHECK(s.latency_us.count() == s.requests);
        CHECK(s.tls.full == 1);
        CHECK(s.tls.resumed == 19);                // one connection, hence one handshake, per request
        CHECK(s.tls.not_resumed == 0);
        CHECK(s.tls.failed == 0);
        CHECK(server.handshakes.load() == 20);
        CHECK(server.resumed.load() == 19);               // the server agrees
        CHECK(s.tls.tickets >= 20);                // two after the full handshake, one after each resumption
        CHECK(s.tls.window_full + s.tls.window_resumed == 20);  // the window began with the run
        CHECK(s.tls.resumed_us.count() == s.tls.window_resumed);
        CHECK(s.tls.unclean_closes == 0);
        CHECK(s.tls.version.rfind("TLSv1.3 ", 0) == 0);
    }

    TEST_CASE("a server that renews no ticket: TLS 1.3 tickets are single use, so every other connection resumes") {
        TlsServer server({.tickets = Tickets::NotRenewed});
        Stats s = run_for(tls_options(server.port, "resume", true), 20);
        CHECK(s.error_total() == 0);
        CHECK(s.requests == 20);
        CHECK(s.tls.full == 10);      // full (two tickets), resumed (none): the used ticket is not offered again
        CHECK(s.tls.resumed == 10);
        CHECK(s.tls.not_resumed == 0);  // nothing offered in vain
        CHECK(server.resumed.load() == 10);
        CHECK(s.tls.tickets == 20);
    }

    TEST_CASE("a server that forgot its ticket keys: every ticket offered is refused, and the run goes on") {
        TlsServer server({.tickets = Tickets::Forgotten});
        Stats s = run_for(tls_options(server.port, "resume", true), 20);
        CHECK(s.error_total() == 0);
        CHECK(s.requests == 20);
        CHECK(s.tls.full == 20);
        CHECK(s.tls.resumed == 0);
        CHECK(s.tls.not_resumed == 19);  // each connection but the first offered its predecessor's ticket
    }

    TEST_CASE("--close, full: every connection's handshake is a full one") {
        TlsServer server({});
        Stats s = run_for(tls_options(server.port, "full", true), 20);
        CHECK(s.error_total() == 0);
        CHECK(s.requests == 20);
        CHECK(server.answered.load() == 20);
        CHECK(s.tls.full == 20);
        CHECK(s.tls.full == s.reconnects);  // every connection closed so far handshook, in full
        CHECK(s.tls.resumed == 0);
        CHECK(s.tls.not_resumed == 0);      // nothing offered, so nothing refused
        CHECK(server.resumed.load() == 0);
        CHECK(s.tls.full_us.count() == 20);
    }

    TEST_CASE("TLS 1.2 resumes too: its session may be offered again, unlike a TLS 1.3 ticket") {
        TlsServer server({});
        Options o = tls_options(server.port, "resume", true);
        o.tls_version = "1.2";
        Stats s = run_for(o, 20);
        CHECK(s.error_total() == 0);
        CHECK(s.requests == 20);
        CHECK(s.tls.full == 1);
        CHECK(s.tls.resumed == 19);
        CHECK(server.resumed.load() == 19);
        CHECK(s.tls.version.rfind("TLSv1.2 ", 0) == 0);
    }

    TEST_CASE("keep-alive: one handshake carries every request") {
        TlsServer server({});
        Stats s = run_for(tls_options(server.port, "resume", false), 50);
        CHECK(s.error_total() == 0);
        CHECK(s.requests == 50);
        CHECK(server.answered.load() >= 50);  // the 51st request left with the 50th answer, before the run stopped
        CHECK(server.answered.load() <= 51);
        CHECK(s.tls.full == 1);
        CHECK(s.tls.resumed == 0);
        CHECK(s.reconnects == 0);
    }

    TEST_CASE("two threads, two lines each, one client context: each line resumes its own tickets") {
        TlsServer server({});
        Options o = tls_options(server.port, "resume", true);
        o.connections = 2;
        SharedRun run;
        start_timeline(run, 40);
        Stats s = run_workers(o, run, 2);
        CHECK(s.error_total() == 0);
        CHECK(s.requests == 40);
        // Each good response had its own connection, and only a line's first handshake is full.
        CHECK(s.tls.full >= 1);
        CHECK(s.tls.full <= 4);
        CHECK(s.tls.resumed >= s.requests - s.tls.full);
        CHECK(s.tls.not_resumed == 0);
        CHECK(server.resumed.load() <= s.tls.resumed);  // a last handshake may be cut off server-side
    }

    TEST_CASE("a body that ends at the close is good only when close_notify ends it") {
        SUBCASE("with close_notify") {
            TlsServer server({.close_delimited = true});
            Stats s = run_for(tls_options(server.port, "resume", false), 5);
            CHECK(s.error_total() == 0);
            CHECK(s.requests == 5);
            CHECK(s.tls.unclean_closes == 0);
        }
        SUBCASE("without: a truncation it cannot tell apart, so never counted good") {
            SharedRun run;
            start_timeline(run, 5);
            TlsServer server({.close_delimited = true, .close_notify = false, .stop_after = 5}, &run);
            Stats s = run_workers(tls_options(server.port, "resume", false), run);
            CHECK(s.requests == 0);
            CHECK(s.completed_total == 0);
            CHECK(s.errors[static_cast<size_t>(ErrorKind::BadFraming)] >= 4);  // the server's 5th waited for the 4th's
            CHECK(s.tls.unclean_closes == s.errors[static_cast<size_t>(ErrorKind::BadFraming)]);
            CHECK(s.error_total() == s.tls.unclean_closes);
        }
    }

    TEST_CASE("a handshake that cannot agree is a tls error, and no request goes out") {
        SharedRun run;
        start_timeline(run, 5);
        TlsServer server({.max_version = TLS1_2_VERSION, .stop_after = 3}, &run);
        Options o = tls_options(server.port, "resume", false);
        o.tls_version = "1.3";  // the server speaks at most 1.2
        Stats s = run_workers(o, run);
        CHECK(s.requests == 0);
        CHECK(server.answered.load() == 0);
        CHECK(s.tls.failed >= 2);
        CHECK(s.errors[static_cast<size_t>(ErrorKind::Tls)] == s.tls.failed);
        CHECK(s.error_total() == s.tls.failed);
        CHECK(s.tls.full + s.tls.resumed == 0);
    }

    TEST_CASE("the report: a tls line and a \"tls\" object only with --tls") {
        Options plain;
        Stats stats;
        stats.requests = 10;
        CHECK(summary_of(plain, stats).find("tls:") == std::string::npos);
        Report report;
        report.options = &plain;
        report.stats = &stats;
        CHECK(to_json(report).find(",\"tls\":null,") != std::string::npos);

        Options o = tls_options(8001, "resume", true);
        stats.tls.window_full = 1;
        stats.tls.window_resumed = 9;
        stats.tls.full = 2;
        stats.tls.resumed = 12;
        stats.tls.not_resumed = 1;
        stats.tls.tickets = 15;
        stats.tls.version = "TLSv1.3 TLS_AES_256_GCM_SHA384";
        std::string summary = summary_of(o, stats);
        CHECK(summary.find("tls:         TLSv1.3 TLS_AES_256_GCM_SHA384, resume; window: 1 full, 9 resumed, 1.00 per request\n") !=
              std::string::npos);
        CHECK(summary.find("whole run: 2 full, 12 resumed, 1 tickets refused, 0 failed, 15 tickets received, "
                           "0 ended without close_notify\n") != std::string::npos);
        report.options = &o;
        std::string json = to_json(report);
        CHECK(json.find(",\"tls\":{\"handshake\":\"resume\",\"version\":\"TLSv1.3 TLS_AES_256_GCM_SHA384\",\"sni\":\"\","
                        "\"window\":{\"full\":1,\"resumed\":9,\"per_request\":1.000,") != std::string::npos);
        CHECK(json.find("\"run\":{\"full\":2,\"resumed\":12,\"not_resumed\":1,\"failed\":0,\"tickets\":15,"
                        "\"unclean_closes\":0}},\"mix\":null}") != std::string::npos);
        CHECK(kErrorNames[static_cast<size_t>(ErrorKind::Tls)] == "tls");
        CHECK(classify_errno(EPROTO) == ErrorKind::Tls);
    }
}
