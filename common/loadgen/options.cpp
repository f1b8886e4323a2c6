// options: the CLI. Single-flag checks sit on the flag; the rest in finish_options().
#include "options.hpp"

#include <arpa/inet.h>
#include <sstream>

namespace one::loadgen {

namespace {

// Descriptors kept back from the budget: stdio, one epoll per thread, the JSON file, slack.
constexpr int kReservedFds = 16;

constexpr int64_t kMaxReadRate = int64_t{1} << 40;  // 1 TB/s: no limit, but the bucket's arithmetic stays exact
constexpr int kMaxRcvbuf = 1 << 30;                 // the kernel caps it at net.core.rmem_max anyway

bool is_loopback(uint32_t address) { return (address >> 24) == 127; }

// --read-rate and --rcvbuf: busy connections that read slowly, for what a slow reader costs a server.
void add_reading(CLI::App& cli, Options& o) {
    cli.add_option("--read-rate", o.read_rate,
                   "bytes/s each busy connection reads at most, from a token bucket holding 100 ms of reading "
                   "(0: as fast as it can). Requests still go out as usual; latency is until the whole response "
                   "was read, and --timeout then counts from the last byte read, not from the request")
        ->capture_default_str()->check(CLI::Range(int64_t{0}, kMaxReadRate));
    cli.add_option("--rcvbuf", o.rcvbuf,
                   "SO_RCVBUF of each busy connection, set before connect (0: the kernel's, which grows to "
                   "megabytes): small, a slow reader's window closes and the server feels it")
        ->capture_default_str()->check(CLI::Range(0, kMaxRcvbuf));
}

void add_load_shape(CLI::App& cli, Options& o) {
    cli.add_option("-c,--connections", o.connections, "busy connections, each sending requests back to back")
        ->capture_default_str()->check(CLI::Range(0, 1000000));
    cli.add_option("--pipeline", o.pipeline, "requests in flight per busy connection")
        ->capture_default_str()->check(CLI::Range(1, 1024));
    cli.add_option("-R,--rate", o.rate, "open loop: requests/s over all busy connections (0: closed loop)")
        ->capture_default_str()->check(CLI::Range(0.0, 1e8));
    cli.add_option("--idle", o.idle, "connections that ask once, then stay open and silent; they open before the busy ones, and the warm-up starts once all are held")
        ->capture_default_str()->check(CLI::Range(0, 1000000));
    cli.add_option("--slow", o.slow, "clients that send each request one byte at a time")
        ->capture_default_str()->check(CLI::Range(0, 100000));
    cli.add_option("--slow-interval", o.slow_interval_ms, "ms between two bytes of a slow client")
        ->capture_default_str()->check(CLI::Range(1, 60000));
    add_reading(cli, o);
    cli.add_option("-t,--threads", o.threads, "client threads, each with its own epoll loop")
        ->capture_default_str()->check(CLI::Range(1, 256));
}

void add_timing(CLI::App& cli, Options& o) {
    cli.add_option("-d,--duration", o.duration_s, "seconds measured (the run's time limit with --requests)")
        ->capture_default_str()->check(CLI::Range(0.001, 3600.0));
    cli.add_option("--warmup", o.warmup_s, "seconds before the measured window; their requests are not counted")
        ->capture_default_str()->check(CLI::Range(0.0, 600.0));
    cli.add_option("-n,--requests", o.requests, "stop after this many measured requests (0: run for --duration)")
        ->capture_default_str();
    cli.add_option("--tail", o.tail_s,
                   "after the window, keep the load up for at most this many seconds: SIGUSR1 opens a second count "
                   "window, SIGUSR2 closes it and ends the run (the lab counts syscalls there, with tracing that "
                   "would slow the measured window)")
        ->capture_default_str()->check(CLI::Range(0.0, 600.0));
    cli.add_option("--timeout", o.timeout_ms, "ms a connect or a request may take before it counts as a timeout")
        ->capture_default_str()->check(CLI::Range(1, 3600 * 1000));
}

CLI::Option* add_mix(CLI::App& cli, Options& o) {
    cli.add_option("--seed", o.seed, "seed of --mix's random draws; each thread mixes in its number, so the same seed "
                                     "and --threads give each thread the same sequence of entries")
        ->capture_default_str();
    return cli.add_option("--mix", o.mix_text,
                          "a mixed workload instead of --path/--method/--body: comma-separated entries "
                          "[METHOD ]PATH[ BODY]=WEIGHT, e.g. '/hello=95,/sleep?ms=50=5' or "
                          "'/hello=99.5,HEAD /hello=0.3,POST /echo some bytes=0.2'. Each request of a busy connection "
                          "draws its entry at random by weight (see --seed). Weights are relative and may be decimals; "
                          "the weight follows the last '=', so paths may hold '='; METHOD defaults to GET; a body is "
                          "what follows the first space after the path; no commas inside an entry. Idle and slow "
                          "connections always send the first entry. The summary and the JSON give each entry's count "
                          "and latencies")
        ->check([](const std::string& text) { return text.empty() ? std::string("no entries, so a total weight of 0") : ""; });
}

void add_request(CLI::App& cli, Options& o) {
    auto* target = cli.add_option("--target", o.target, "HOST:PORT ([::1]:PORT for IPv6), instead of --host and --port");
    cli.add_option("--host", o.host, "server address: 127.0.0.0/8 or ::1 (loopback only)")->capture_default_str()->excludes(target);
    cli.add_option("--port", o.port, "server port")->capture_default_str()->check(CLI::Range(1, 65535))->excludes(target);
    auto* path = cli.add_option("--path", o.path, "request target")->capture_default_str();
    auto* method = cli.add_option("--method", o.method, "request method")->capture_default_str();
    auto* body = cli.add_option("--body", o.body, "request body (sent with Content-Length), e.g. for POST /echo");
    add_mix(cli, o)->excludes(path)->excludes(method)->excludes(body);
    cli.add_flag("--close", o.close_each, "send Connection: close: each request on a new connection (loads accept())");
    cli.add_option("--expect-status", o.expect_status, "the status every response must have")
        ->capture_default_str()->check(CLI::Range(100, 599));
    cli.add_option("--source-ips", o.source_ips_text,
                   "bind connections round-robin to these source addresses, e.g. 127.0.0.1-127.0.0.8");
    cli.add_option("--json", o.json_path, "write the results as JSON to this file");
}

// --tls and the flags that only mean something with it (CLI11 refuses them alone, naming --tls).
void add_tls(CLI::App& cli, Options& o) {
    auto* tls = cli.add_flag("--tls", o.tls,
                             "speak TLS 1.2/1.3, with no certificate check (loadgen measures the server, not the PKI). "
                             "Each connection handshakes before its first request, so a request's latency never "
                             "includes a handshake: the handshakes have their own latencies in the tls line, and "
                             "with --close their cost shows in req/s");
    cli.add_option("--tls-handshake", o.tls_handshake,
                   "full: no connection offers a session, so every handshake is a full one; resume: a connection "
                   "that reconnects offers the newest ticket its previous connection received")
        ->capture_default_str()->check(CLI::IsMember({"full", "resume"}))->needs(tls);
    cli.add_option("--tls-version", o.tls_version, "1.2 or 1.3: offer only that version; any: 1.2 or 1.3, the highest both speak")
        ->capture_default_str()->check(CLI::IsMember({"1.2", "1.3", "any"}))->needs(tls);
    cli.add_option("--tls-sni", o.tls_sni, "server name to send (default none: the target is an address, and "
                                           "RFC 6066 allows no address in SNI)")
        ->needs(tls);
}

void fail(const std::string& flag, const std::string& why) { throw CLI::ValidationError(flag, why); }

// A DNS name, as SNI carries it: letters, digits, '-', '.', '_' (test names), at most 255 bytes, no address.
void check_sni(const std::string& name) {
    if (name.empty()) return;
    in6_addr address{};  // not parse_ipv4(), which takes "localhost", a good name here
    if (::inet_pton(AF_INET, name.c_str(), &address) == 1 || ::inet_pton(AF_INET6, name.c_str(), &address) == 1)
        fail("--tls-sni", "'" + name + "' is an address; RFC 6066 allows only a host name in SNI");
    if (name.size() > 255 || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") != std::string::npos)
        fail("--tls-sni", "'" + name + "' is not a host name");
}

void check_target(Options& o) {
    if (!o.target.empty()) {
        size_t colon = o.target.rfind(':');
        if (colon == std::string::npos) fail("--target", "expected HOST:PORT, got '" + o.target + "'");
        o.host = o.target.substr(0, colon);
        try {
            size_t used = 0;
            o.port = std::stoi(o.target.substr(colon + 1), &used);
            if (used != o.target.size() - colon - 1 || o.port < 1 || o.port > 65535) throw std::out_of_range("port");
        } catch (const std::exception&) {
            fail("--target", "bad port in '" + o.target + "'");
        }
    }
    if (o.host.size() > 2 && o.host.front() == '[' && o.host.back() == ']') o.host = o.host.substr(1, o.host.size() - 2);
    if (o.host == "::1") {  // IPv6 has one loopback address
        if (!o.source_ips_text.empty()) fail("--source-ips", "IPv4 source addresses cannot reach the IPv6 server ::1");
        return;
    }
    uint32_t address = 0;
    if (!parse_ipv4(o.host, address)) fail("--target", "'" + o.host + "' is not an IPv4 address, nor ::1");
    if (!is_loopback(address)) fail("--target", o.host + " is not a loopback address (127.0.0.0/8 or ::1): loadgen only loads this machine");
    o.host = format_ipv4(address);
}

// A request line must stay one line: no spaces, no CR or LF in the method or path.
void check_request(const Options& o) {
    if (o.path.empty() || o.path[0] != '/') fail("--path", "must start with '/'");
    if (o.path.find_first_of(" \t\r\n") != std::string::npos) fail("--path", "must not contain spaces or line breaks");
    if (o.method.empty() || o.method.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos)
        fail("--method", "expected an upper-case method such as GET or POST");
}

}  // namespace

void add_options(CLI::App& cli, Options& options) {
    add_load_shape(cli, options);
    add_timing(cli, options);
    add_request(cli, options);
    add_tls(cli, options);
}

void finish_options(Options& o) {
    check_target(o);
    check_request(o);
    if (!o.mix_text.empty()) o.mix = parse_mix(o.mix_text);
    if (!o.source_ips_text.empty()) o.source_ips = parse_source_ips(o.source_ips_text);
    if (o.connections == 0 && o.idle == 0 && o.slow == 0) fail("--connections", "nothing to do: no busy, idle or slow connections");
    if (o.open_loop() && o.connections == 0) fail("--rate", "an open-loop rate needs busy connections (--connections)");
    if (o.requests > 0 && o.connections == 0) fail("--requests", "only busy connections make measured requests");
    if (o.close_each && o.pipeline > 1) fail("--close", "a connection that closes after one response cannot pipeline");
    check_sni(o.tls_sni);
}

bool parse_ipv4(const std::string& text, uint32_t& address) {
    in_addr addr{};
    if (::inet_pton(AF_INET, text == "localhost" ? "127.0.0.1" : text.c_str(), &addr) != 1) return false;
    address = ntohl(addr.s_addr);
    return true;
}

std::string host_and_port(const Options& o) {
    bool ipv6 = o.host.find(':') != std::string::npos;
    return (ipv6 ? "[" + o.host + "]" : o.host) + ":" + std::to_string(o.port);
}

std::string format_ipv4(uint32_t address) {
    in_addr addr{htonl(address)};
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &addr, text, sizeof text);
    return text;
}

std::vector<uint32_t> parse_source_ips(const std::string& text) {
    std::vector<uint32_t> out;
    std::stringstream items(text);
    for (std::string item; std::getline(items, item, ',');) {
        size_t dash = item.find('-');
        uint32_t first = 0, last = 0;
        if (!parse_ipv4(item.substr(0, dash), first) ||
            !parse_ipv4(dash == std::string::npos ? item : item.substr(dash + 1), last))
            fail("--source-ips", "'" + item + "' is not an address or a range A-B");
        if (!is_loopback(first) || !is_loopback(last)) fail("--source-ips", "'" + item + "' is not in 127.0.0.0/8");
        if (last < first) fail("--source-ips", "range '" + item + "' runs backwards");
        if (out.size() + (last - first) >= 65536) fail("--source-ips", "more than 65536 addresses");
        for (uint64_t a = first; a <= last; ++a) out.push_back(static_cast<uint32_t>(a));
    }
    if (out.empty()) fail("--source-ips", "no addresses in '" + text + "'");
    return out;
}

FdBudget plan_fds(long fd_limit, const Options& o) {
    long room = fd_limit - kReservedFds - o.threads - o.connections - o.slow;
    FdBudget budget{o.idle, "", ""};
    if (room < 0)
        budget.error = "fd limit " + std::to_string(fd_limit) + " leaves room for " +
                       std::to_string(std::max(0L, room + o.connections + o.slow)) + " busy and slow connections (asked " +
                       std::to_string(o.connections + o.slow) + ")";
    if (room < o.idle) {
        budget.idle = static_cast<int>(std::max(0L, room));
        budget.limited_by = "fd limit " + std::to_string(fd_limit) + " caps idle connections at " +
                            std::to_string(budget.idle) + " (asked " + std::to_string(o.idle) + ")";
    }
    return budget;
}

}  // namespace one::loadgen
