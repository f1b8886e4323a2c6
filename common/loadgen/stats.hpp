// stats: what one client thread counted; the threads' stats are merged after the run.
#pragma once

#include "histogram.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace one::loadgen {

// Every failure is one of these; the names are the JSON keys.
enum class ErrorKind : uint8_t {
    Refused,     // connect: ECONNREFUSED
    Reset,       // ECONNRESET or EPIPE, or the server closed before answering a request in flight
    Timeout,     // no connect or no response within --timeout (or the kernel's ETIMEDOUT)
    BadStatus,   // a well-framed response with another status than --expect-status
    BadFraming,  // not HTTP/1.x, truncated, or bytes nobody asked for
    Tls,         // --tls: a handshake or a record went wrong (an alert, a bad record, no common version)
    Other,       // anything else (EADDRNOTAVAIL, EMFILE, ...)
};
inline constexpr size_t kErrorKinds = 7;
inline constexpr std::array<std::string_view, kErrorKinds> kErrorNames = {
    "refused", "reset", "timeout", "bad_status", "bad_framing", "tls", "other"};

// Sorts an errno from connect, send or recv into a kind. EPROTO is what a TLS failure reads as.
ErrorKind classify_errno(int err);

using ErrorCounts = std::array<uint64_t, kErrorKinds>;

struct EntryStats {                  // --mix: one entry's part of the measured window
    Histogram latency_us;            // good responses of busy connections, as in Stats
    uint64_t requests = 0;
};

// --tls: handshakes and how TLS streams ended. "Window" counts are busy connections' handshakes that
// finished inside the measured window, as requests are; the others count the whole run, every role.
struct TlsStats {
    uint64_t window_full = 0, window_resumed = 0;
    Histogram full_us, resumed_us;   // measured window, busy: SSL_new to the handshake's end
    uint64_t full = 0, resumed = 0;  // whole run: handshakes completed, by kind
    uint64_t not_resumed = 0;        // a ticket offered, a full handshake given (unknown key, reload, expired)
    uint64_t failed = 0;             // handshakes that failed or timed out (also counted as errors, by kind)
    uint64_t tickets = 0;            // NewSessionTickets received
    uint64_t unclean_closes = 0;     // streams the server ended without close_notify
    std::string version;             // "TLSv1.3 TLS_AES_256_GCM_SHA384", from the first handshake

    void merge(const TlsStats& other);
};

struct Stats {
    Histogram latency_us;            // measured window, good responses of busy connections
    uint64_t requests = 0;           // measured window, good responses of busy connections
    uint64_t bytes_received = 0;     // measured window, busy connections
    uint64_t completed_total = 0;    // whole run, any response of a busy connection (progress line)
    uint64_t count_window_requests = 0;  // --tail: good responses of busy connections in the signalled window
    ErrorCounts errors{};            // whole run, busy and idle connections
    ErrorCounts slow_errors{};       // whole run, slow clients, kept apart
    uint64_t slow_completed = 0;     // whole run, good responses to slow clients
    uint64_t reconnects = 0;         // connections opened again, after an error or a close
    uint64_t ports_exhausted = 0;    // connects refused with EADDRNOTAVAIL: no ephemeral port left
    uint64_t out_of_fds = 0;         // sockets refused with EMFILE or ENFILE
    uint64_t idle_held = 0;          // at the end: idle connections answered and still open
    uint64_t idle_closed_by_server = 0;
    int64_t idle_ready_ns = 0;       // when the last idle connection was held, from the run's start
    std::vector<EntryStats> mix;     // --mix: per entry, in the order given (the totals above include them)
    TlsStats tls;                    // --tls only; all zero without

    uint64_t error_total() const;
    void merge(const Stats& other);
};

}  // namespace one::loadgen
