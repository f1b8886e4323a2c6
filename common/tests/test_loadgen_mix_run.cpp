// loadgen's --mix end to end: a Worker against a tiny in-process server that notes every request.
// It checks what unit tests of the pieces cannot: the bytes each connection sends follow its draws,
// pipelined HEADs are framed without a body, and big requests survive partial writes.
#include "common/loadgen/net.hpp"
#include "common/loadgen/worker.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <thread>

using namespace one;
using namespace one::loadgen;

namespace {

// Answers requests in order on one connection until the client goes away, and keeps their lines.
// HEAD gets the head GET would get, announcing a body it does not send.
class NotingServer {
public:
    NotingServer() : listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        // A fixed receive buffer (accepted sockets inherit it) rather than one grown to 32 MB: with the
        // client's send buffer (at most 4 MB) it cannot hold a 5 MB request.
        int rcvbuf = 256 * 1024;
        ::setsockopt(listener_.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        REQUIRE(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0);
        REQUIRE(::listen(listener_.get(), 8) == 0);
        set_timeout(listener_.get());
        ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
        port = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~NotingServer() { if (thread_.joinable()) thread_.join(); }

    // Waits for the client to go (the worker closes abortively when it finishes): the lines seen.
    std::vector<std::string> finish() {
        thread_.join();
        return lines_;
    }

    int port = 0;

private:
    // A test that goes wrong must not hang: accept and recv give up after 5 s.
    static void set_timeout(int fd) {
        timeval tv{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }

    void serve() {
        Fd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!client) return;
        set_timeout(client.get());
        int on = 1;  // a request whose body comes in pieces is answered apart from the ones before it
        ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        std::string in;
        std::vector<char> buf(256 * 1024);
        for (ssize_t n; (n = ::recv(client.get(), buf.data(), buf.size(), 0)) > 0;) {
            in.append(buf.data(), static_cast<size_t>(n));
            std::string out;  // the answers to all whole requests, in one send
            while (answer_one(in, out)) {}
            if (!out.empty()) ::send(client.get(), out.data(), out.size(), MSG_NOSIGNAL);
        }
    }

    // Takes one whole request off the front of `in` and appends its answer to `out`; false when none is whole yet.
    bool answer_one(std::string& in, std::string& out) {
        size_t head_end = in.find("\r\n\r\n");
        if (head_end == std::string::npos) return false;
        std::string head = in.substr(0, head_end);
        size_t length_at = head.find("Content-Length: ");
        size_t body = length_at != std::string::npos ? std::stoul(head.substr(length_at + 16)) : 0;
        if (in.size() < head_end + 4 + body) {
            // The first big request waits in the buffers a while, so the client's writes surely fill them.
            if (body > 1'000'000 && !paused_) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
                paused_ = true;
            }
            return false;
        }
        std::string line = head.substr(0, head.find(" HTTP/1.1"));
        lines_.push_back(line);
        in.erase(0, head_end + 4 + body);
        out += "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        if (line.rfind("HEAD ", 0) != 0) out += "hello";
        return true;
    }

    Fd listener_;
    std::thread thread_;
    bool paused_ = false;
    std::vector<std::string> lines_;  // "GET /a": each request's method and target, in order
};

// One worker, one busy connection, measured from the start (no warm-up) until `requests` have
// been answered. A count, not a time: under a sanitizer on a busy machine 0.2 s held 8 requests.
// The 30 s are only a bound, for a run that goes wrong.
Stats run_worker(const Options& options, uint64_t requests) {
    SharedRun run;
    run.start_ns = run.window_start_ns = now_ns();
    run.window_end_ns = run.run_end_ns = run.start_ns + static_cast<int64_t>(30e9);
    run.request_limit = requests;
    run.go = true;
    Worker worker(options, run, Share{0, 1, 1, 0, 0});
    worker.run();
    return worker.stats;
}

Options one_connection(int port, int pipeline) {
    Options o;
    o.port = port;
    o.connections = 1;
    o.pipeline = pipeline;
    o.timeout_ms = 2000;
    return o;
}

}  // namespace

TEST_SUITE("loadgen mix run") {
    TEST_CASE("pipelined HEAD, GET and POST entries: each request is its draw, each response framed right") {
        NotingServer server;
        Options o = one_connection(server.port, 4);
        o.seed = 5;
        // POST's 5 MB are more than the socket buffers hold: batches with one are written in parts.
        o.mix = parse_mix("GET /a=2,HEAD /b?c=d=1,POST /c " + std::string(5'000'000, 'x') + "=0.2");
        Stats stats = run_worker(o, 100);
        std::vector<std::string> lines = server.finish();

        CHECK(stats.error_total() == 0);  // a HEAD framed as if a body followed would break the next response
        REQUIRE(stats.mix.size() == 3);
        uint64_t sum = 0;
        for (const EntryStats& e : stats.mix) {
            CHECK(e.requests > 0);
            CHECK(e.latency_us.count() == e.requests);
            sum += e.requests;
        }
        CHECK(sum == stats.requests);
        CHECK(stats.requests > 20);
        // One connection draws in order: the server saw exactly the seed's sequence.
        REQUIRE(lines.size() >= stats.requests);
        MixChooser chooser(o.mix, 5, 0);
        size_t matching = 0;
        while (matching < lines.size() && lines[matching] == o.mix[chooser.next()].label()) ++matching;
        CHECK(matching == lines.size());
    }

    TEST_CASE("without --mix every request is the batch's, and no per-entry stats appear") {
        NotingServer server;
        Options o = one_connection(server.port, 3);
        o.method = "HEAD";
        o.path = "/h";
        Stats stats = run_worker(o, 20);
        std::vector<std::string> lines = server.finish();
        CHECK(stats.error_total() == 0);
        CHECK(stats.requests > 0);
        CHECK(stats.mix.empty());
        REQUIRE_FALSE(lines.empty());
        CHECK(std::count(lines.begin(), lines.end(), "HEAD /h") == static_cast<long>(lines.size()));
    }
}
