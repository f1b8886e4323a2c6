// connection: one client connection's state. A Worker drives it; this file only describes it.
//
// Every busy connection sends the same bytes: a batch of D identical requests built once per
// thread, so sending k requests is writing the batch's first k * request_len bytes. Responses come
// back in order, so the k-th response answers the k-th request, and a ring of D start times is
// all a connection needs to time them.
//
// With --mix, requests differ: a busy connection lays the requests it draws in its own `pending`
// bytes, and keeps a second ring, beside the start times, of the entry each request asked for.
//
// With --read-rate, a busy connection reads only what its bucket allows (read_bucket.hpp).
//
// With --tls, a connection handshakes once connected, and its bytes pass through its SSL (tls.hpp).
#pragma once

#include "common/sys.hpp"
#include "read_bucket.hpp"
#include "response_checker.hpp"
#include "tls.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace one::loadgen {

enum class Role : uint8_t {
    Busy,  // sends requests back to back (closed loop) or on a schedule (open loop)
    Idle,  // sends one request, then stays open and silent: the C10K crowd
    Slow,  // trickles each request one byte per --slow-interval
};

enum class Phase : uint8_t {
    Unopened,    // an idle connection still waiting for its turn to connect
    Connecting,  // connect() in progress: waiting for the socket to turn writable
    Handshaking, // --tls: connected, the TLS handshake in progress
    Active,      // connected: sending requests and reading responses
    Held,        // idle and answered: now silent, watched only for the server closing it
    Waiting,     // closed after an error; the next housekeeping turn opens it again
    Finished,    // closed for good (an idle connection that failed or was closed)
};

struct Connection {
    Fd fd;
    Role role = Role::Busy;
    Phase phase = Phase::Unopened;
    bool want_read = false;        // EPOLLIN is in the interest set (off: connecting, or out of read tokens)
    bool want_write = false;       // EPOLLOUT is in the interest set
    bool opened_before = false;    // the next open is a reconnect
    uint32_t generation = 0;       // bumped per socket: an event for an older socket is stale
    uint32_t source = 0;           // source address (host order), 0: the kernel's choice
    uint32_t lane = 0;             // open loop: this connection's place in its thread's schedule
    uint32_t depth = 1;            // size of `started`: requests that may be in flight
    size_t write_at = 0;           // the bytes [write_at, write_end) of `out` are still to send
    size_t write_end = 0;
    const char* out = nullptr;     // what is being sent: the thread's batch, or (--mix, busy) `pending`
    uint64_t sent = 0;             // requests begun on this connection (open loop: the next slot)
    uint64_t answered = 0;         // responses received; sent - answered are in flight
    uint64_t due = 0;              // open loop: slots released to this connection so far
    int64_t deadline_ns = 0;       // a connect or response must come by then; 0: none
    std::unique_ptr<int64_t[]> started;  // ring: when request i (index i % depth) started its clock
    ResponseChecker checker;
    ReadBucket bucket;             // --read-rate, busy: how much it may read now; unlimited otherwise
    std::unique_ptr<uint32_t[]> entries;  // --mix, busy: ring beside `started`: the entry request i asked for
    std::string pending;           // --mix, busy: the requests being sent, each drawn apart
    TlsState tls;                  // --tls: this socket's SSL, and the line's ticket

    uint64_t in_flight() const { return sent - answered; }
    bool writing() const { return write_at < write_end; }
};

}  // namespace one::loadgen
