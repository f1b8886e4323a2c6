// options: loadgen's flags, their checks, and the file-descriptor budget they imply.
#pragma once

#include "mix.hpp"

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace one::loadgen {

struct Options {
    std::string host = "127.0.0.1";
    int port = 8001;
    std::string target;             // "127.0.0.1:8001"; when given, sets host and port
    int connections = 10;           // busy connections
    int pipeline = 1;               // requests in flight per busy connection
    double rate = 0;                // requests/s over all busy connections; 0: closed loop
    int64_t read_rate = 0;          // bytes/s each busy connection reads at most; 0: as fast as it can
    int rcvbuf = 0;                 // SO_RCVBUF of each busy connection, set before connect; 0: the kernel's
    int idle = 0;                   // connections that ask once, then sit silent
    int slow = 0;                   // clients that trickle each request a byte at a time
    int slow_interval_ms = 100;     // between two of a slow client's bytes
    double duration_s = 5;          // the measured window
    double warmup_s = 1;            // before it; requests finished here are not counted
    uint64_t requests = 0;          // stop after this many measured requests; 0: run for duration_s
    double tail_s = 0;              // load kept up after the window, for a count window opened by signals
    std::string path = "/hello";
    std::string method = "GET";
    std::string body;
    std::string mix_text;           // --mix as given; "" without it
    std::vector<MixEntry> mix;      // parsed from mix_text; empty: every request is method, path and body
    uint64_t seed = 1;              // --mix draws: each thread mixes its number into it
    bool close_each = false;        // every request says Connection: close: a new connection per request
    int threads = 1;
    int timeout_ms = 5000;          // per request, and per connect
    std::string source_ips_text;    // "127.0.0.1-127.0.0.8"
    std::vector<uint32_t> source_ips;  // host byte order; empty: let the kernel choose
    int expect_status = 200;
    std::string json_path;
    bool tls = false;               // speak TLS 1.2/1.3 (no certificate check)
    std::string tls_handshake = "resume";  // full: never offer a ticket; resume: a reconnect offers its line's newest
    std::string tls_version = "any";       // 1.2 or 1.3: only that one; any: the highest both speak
    std::string tls_sni;            // server name sent; "" sends none

    bool open_loop() const { return rate > 0; }
    bool tls_resume() const { return tls && tls_handshake == "resume"; }
    bool slow_reading() const { return read_rate > 0; }
};

// Adds every flag to `cli`.
void add_options(CLI::App& cli, Options& options);

// Checks what single flags cannot: the target, loopback-only addresses, combinations. Fills
// host, port and source_ips. Throws CLI::ValidationError naming the flag.
void finish_options(Options& options);

// "127.0.0.1-127.0.0.8" or "127.0.0.1,127.0.0.5" (or both mixed): the addresses, host byte order.
// Throws CLI::ValidationError unless every address is in 127.0.0.0/8.
std::vector<uint32_t> parse_source_ips(const std::string& text);

// An IPv4 address in dotted form (or "localhost"), host byte order; false when it is not one.
bool parse_ipv4(const std::string& text, uint32_t& address);
std::string format_ipv4(uint32_t address);

// "127.0.0.1:8001", or "[::1]:8001": host and port as a URL (and a Host header) writes them.
std::string host_and_port(const Options& o);

// How many idle connections the descriptor limit leaves room for, and the sentence that says so.
struct FdBudget {
    int idle = 0;            // idle connections to open
    std::string limited_by;  // "" when nothing was capped
    std::string error;       // not even the busy and slow connections fit: the run cannot start
};
FdBudget plan_fds(long fd_limit, const Options& options);

}  // namespace one::loadgen
