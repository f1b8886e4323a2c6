// loadgen's --read-rate and --rcvbuf: the token bucket on a made-up clock, the flags, the report, and
// a Worker reading a 64 KiB answer slowly from a tiny in-process server, on the real clock.
#include "common/loadgen/net.hpp"
#include "common/loadgen/read_bucket.hpp"
#include "common/loadgen/report.hpp"
#include "common/loadgen/worker.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>

using namespace one;
using namespace one::loadgen;

namespace {

constexpr int64_t kMs = 1'000'000;
constexpr size_t kBody = 64 * 1024;

// Answers every request of one connection with the same 64 KiB, until the client goes away.
// Blocking sends: against a slow reader the server waits, as a real one would.
class BigAnswerServer {
public:
    BigAnswerServer() : listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        sockaddr_in addr = ipv4_address(INADDR_LOOPBACK, 0);
        socklen_t len = sizeof addr;
        REQUIRE(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0);
        REQUIRE(::listen(listener_.get(), 8) == 0);
        set_timeouts(listener_.get());
        ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
        port = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~BigAnswerServer() { thread_.join(); }

    int port = 0;

private:
    // A test that goes wrong must not hang: accept, recv and send give up after 5 s.
    static void set_timeouts(int fd) {
        timeval tv{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }

    void serve() {
        Fd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!client) return;
        set_timeouts(client.get());
        std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kBody) + "\r\n\r\n" + std::string(kBody, 'x');
        std::string in;
        char buf[4096];
        for (ssize_t n; (n = ::recv(client.get(), buf, sizeof buf, 0)) > 0;) {
            in.append(buf, static_cast<size_t>(n));
            for (size_t end; (end = in.find("\r\n\r\n")) != std::string::npos;) {
                in.erase(0, end + 4);
                if (!send_all(client.get(), answer)) return;
            }
        }
    }

    static bool send_all(int fd, const std::string& bytes) {
        for (size_t at = 0; at < bytes.size();) {
            ssize_t n = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
            if (n <= 0) return false;
            at += static_cast<size_t>(n);
        }
        return true;
    }

    Fd listener_;
    std::thread thread_;
};

struct SlowRun {
    Stats stats;
    double cpu_s = 0;  // the worker's thread, over the run
};

double thread_cpu_s() {
    rusage usage{};
    ::getrusage(RUSAGE_THREAD, &usage);
    auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// One worker, one busy connection, measured from the start for `seconds`, or until `requests`
// were answered (0: no limit).
SlowRun run_worker(const Options& options, double seconds, uint64_t requests) {
    SharedRun run;
    run.start_ns = run.window_start_ns = now_ns();
    run.window_end_ns = run.run_end_ns = run.start_ns + static_cast<int64_t>(seconds * 1e9);
    run.request_limit = requests;
    run.go = true;
    Worker worker(options, run, Share{0, 1, 1, 0, 0});
    double cpu_before = thread_cpu_s();
    worker.run();
    return {worker.stats, thread_cpu_s() - cpu_before};
}

Options one_connection(int port) {
    Options o;
    o.port = port;
    o.connections = 1;
    o.timeout_ms = 3000;
    return o;
}

Options parse(const std::string& line) {
    CLI::App app;
    Options options;
    add_options(app, options);
    app.parse(line, false);
    finish_options(options);
    return options;
}

std::string summary_of(const Options& options, const Stats& stats) {
    Report report;
    report.options = &options;
    report.stats = &stats;
    char* text = nullptr;
    size_t len = 0;
    std::FILE* out = ::open_memstream(&text, &len);
    print_summary(out, report);
    std::fclose(out);
    std::string s(text, len);
    std::free(text);
    return s;
}

}  // namespace

TEST_SUITE("loadgen read rate") {
    TEST_CASE("bucket: unlimited gives all it is asked") {
        ReadBucket bucket;
        CHECK_FALSE(bucket.limited());
        CHECK(bucket.allowance(0, 65536) == 65536);
        bucket.spend(1'000'000);
        CHECK(bucket.allowance(0, 65536) == 65536);
    }

    TEST_CASE("bucket: starts with 100 ms of reading, then refills with the clock, never past that burst") {
        ReadBucket bucket(65536);
        int64_t t = 1000 * kMs;
        CHECK(bucket.burst() == doctest::Approx(6553.6));
        CHECK(bucket.allowance(t, 1'000'000) == 6553);
        CHECK(bucket.allowance(t, 100) == 100);  // never more than the caller's buffer
        bucket.spend(6553);
        CHECK(bucket.allowance(t, 1'000'000) == 0);  // out of tokens: the connection stops reading
        CHECK(bucket.allowance(t + 50 * kMs, 1'000'000) == 3277);  // half a tick: half a burst (0.6 + 3276.8)
        CHECK(bucket.allowance(t + 10'000 * kMs, 1'000'000) == 6553);  // ten quiet seconds: still one burst
    }

    TEST_CASE("bucket: rates under 10 B/s keep fractions and still read whole bytes") {
        ReadBucket bucket(5);
        int64_t t = 1000 * kMs;
        REQUIRE(bucket.allowance(t, 100) == 1);
        bucket.spend(1);
        CHECK(bucket.allowance(t + 100 * kMs, 100) == 0);  // half a byte
        CHECK(bucket.allowance(t + 200 * kMs, 100) == 1);
    }

    TEST_CASE("bucket: a greedy reader gets the rate, and over T seconds never more than burst + rate * T") {
        for (int64_t rate : {1000, 16384, 65536, 10'000'000}) {
            CAPTURE(rate);
            ReadBucket bucket(rate);
            int64_t start = 1000 * kMs, t = start;
            double total = 0;
            for (; t < start + 10'000 * kMs; t += 3 * kMs + 7) {  // reads at odd times, as a loop would
                size_t n = bucket.allowance(t, 64 * 1024);
                bucket.spend(n);
                total += static_cast<double>(n);
                CHECK(total <= bucket.burst() + static_cast<double>(rate) * static_cast<double>(t - start) / 1e9 + 1e-6);
            }
            CHECK(total >= 0.99 * static_cast<double>(rate) * 10);
        }
    }

    TEST_CASE("flags: off by default, non-negative, and combined with an open-loop --rate") {
        Options o = parse("");
        CHECK(o.read_rate == 0);
        CHECK(o.rcvbuf == 0);
        CHECK_FALSE(o.slow_reading());
        o = parse("--read-rate 16384 --rcvbuf 8192 --rate 100");
        CHECK(o.read_rate == 16384);
        CHECK(o.slow_reading());
        CHECK(o.rcvbuf == 8192);
        CHECK(o.open_loop());
        for (const char* bad : {"--read-rate -1", "--read-rate=-16384", "--rcvbuf -1", "--rcvbuf=-8192", "--read-rate fast"}) {
            CAPTURE(bad);
            std::string flag = std::string(bad).substr(0, std::string(bad).find_first_of(" ="));
            CHECK_THROWS_WITH_AS(parse(bad), doctest::Contains(flag.c_str()), CLI::ParseError);
            CHECK_THROWS_WITH_AS(parse(bad), doctest::Contains("not in range 0 to"), CLI::ParseError);
        }
    }

    TEST_CASE("report: the JSON always has read_rate and rcvbuf; the summary says them when set") {
        Options o;
        Stats stats;
        Report report;
        report.options = &o;
        report.stats = &stats;
        CHECK(to_json(report).find(",\"read_rate\":0,\"rcvbuf\":0,") != std::string::npos);
        CHECK(summary_of(o, stats).find("reading:") == std::string::npos);  // the default runs' summary is unchanged
        o.read_rate = 16384;
        o.rcvbuf = 8192;
        CHECK(to_json(report).find(",\"read_rate\":16384,\"rcvbuf\":8192,") != std::string::npos);
        CHECK(summary_of(o, stats).find("\nreading:     at most 16384 B/s per busy connection, SO_RCVBUF 8192 B asked\n") !=
              std::string::npos);
        o.read_rate = 0;
        CHECK(summary_of(o, stats).find("\nreading:     as fast as it can, SO_RCVBUF 8192 B asked\n") != std::string::npos);
    }

    TEST_CASE("--rcvbuf: the socket's receive buffer is set before connect") {
        BigAnswerServer server;  // its thread waits for a connection: give it one
        SocketAddress address = parse_address("127.0.0.1", server.port);
        int err = 0;
        Fd fd = start_connect(address, 0, 8192, err);
        REQUIRE(fd);
        int size = 0;
        socklen_t len = sizeof size;
        REQUIRE(::getsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, &len) == 0);
        CHECK(size >= 8192);
        CHECK(size <= 4 * 8192);  // Linux doubles it for its bookkeeping; the default is 128 KiB or more
    }

    TEST_CASE("a 64 KiB answer read at 64 KiB/s takes about a second; unthrottled, hundreds fit in that time") {
        Stats fast;
        {
            BigAnswerServer server;
            fast = run_worker(one_connection(server.port), 2, 100).stats;
        }
        CHECK(fast.error_total() == 0);
        CHECK(fast.requests == 100);  // a throttled connection would need 100 s for these

        BigAnswerServer server;
        Options o = one_connection(server.port);
        o.read_rate = 65536;
        o.rcvbuf = 16384;  // as the lab uses it: the server's sends wait for the slow reader
        SlowRun slow = run_worker(o, 2, 0);
        CHECK(slow.stats.error_total() == 0);
        CHECK(slow.stats.requests >= 1);  // the first answer needs about 0.9 s, the second comes at about 1.9 s
        CHECK(slow.stats.requests <= 4);
        // The bucket's promise, which no slow machine can break: burst + rate * 2 s, here with 10% to spare.
        CHECK(slow.stats.bytes_received <= static_cast<uint64_t>(1.1 * (6554 + 65536 * 2)));
        CHECK(slow.stats.bytes_received >= kBody);
        // Waiting for tokens is sleeping, not spinning: a loop polling a readable socket for 2 s
        // would burn most of a core, this one reads about 20 times a second.
        CHECK(slow.cpu_s < 0.5);
    }
}
