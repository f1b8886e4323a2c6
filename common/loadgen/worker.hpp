// worker: one client thread. It owns its share of the connections and runs one epoll loop over
// them until the load stops (the measured window's end, or --tail's): events, then the open-loop schedule, then housekeeping
// (timeouts, reconnects, slow clients' next bytes, slow readers' next reads, the next wave of idle connections).
#pragma once

#include "connection.hpp"
#include "options.hpp"
#include "stats.hpp"
#include "tls.hpp"

#include <atomic>
#include <netinet/in.h>
#include <optional>
#include <span>
#include <sys/epoll.h>
#include <string>
#include <vector>

namespace one::loadgen {

// What all workers share: the timeline and the stop signals. The idle crowd opens first, and the
// clock starts only once every worker has settled its share: `go` publishes the timeline, which
// is fixed from then on, so opening thousands of connections is never part of what is measured.
struct SharedRun {
    int64_t crowd_start_ns = 0;               // the idle crowd starts to open (before the threads start)
    std::atomic<int> crowds_settled{0};       // workers whose idle connections are all held or failed
    std::atomic<bool> go{false};              // the timeline below is set: the busy connections start sending
    int64_t start_ns = 0;                     // the busy connections start sending; the warm-up begins
    int64_t window_start_ns = INT64_MAX;      // the measured window begins
    int64_t window_end_ns = INT64_MAX;        // it ends
    int64_t run_end_ns = INT64_MAX;           // the load stops: at window_end_ns, or later with --tail
    // --tail: a second window an observer opens (SIGUSR1) and closes (SIGUSR2, which ends the run).
    std::atomic<int64_t> count_start_ns{INT64_MAX};
    std::atomic<int64_t> count_end_ns{INT64_MAX};
    uint64_t request_limit = 0;   // --requests: the window ends early at this many (0: no limit)
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> measured{0};        // only counted when request_limit is set
    std::atomic<int64_t> limit_reached_ns{0};  // when the request_limit-th request finished, or a signal came

    bool in_window(int64_t t) const { return t >= window_start_ns && t < window_end_ns; }
    bool in_count_window(int64_t t) const {
        return t >= count_start_ns.load(std::memory_order_relaxed) && t < count_end_ns.load(std::memory_order_relaxed);
    }
};

// How many connections of each role one worker gets.
struct Share {
    int thread = 0;  // this worker's number
    int threads = 1;
    int busy = 0;
    int idle = 0;
    int slow = 0;
};

class Worker {
public:
    // `tls`: the shared client context, with --tls (the worker only reads it); null without.
    Worker(const Options& options, SharedRun& run, const Share& share, const ClientContext* tls = nullptr);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void run();  // returns when the load stops or the run is stopped

    Stats stats;  // read it after run() returned
    // For the progress line, published once per loop turn (the only values read while running).
    std::atomic<uint64_t> progress_completed{0};
    std::atomic<uint64_t> progress_errors{0};

private:
    // worker.cpp: the loop and its timers
    void loop_turn(int64_t now);
    void dispatch(const epoll_event& event, int64_t now);
    void release_slots(int64_t now);
    int64_t slot_time(uint64_t slot) const;
    void housekeeping(int64_t now);
    void trickle_slow(int64_t now);
    void read_tick(int64_t now);
    void open_idle_wave(int64_t now);
    bool crowd_settled() const { return idle_opening_ == 0 && next_idle_ == connections_.size(); }
    int64_t next_wake() const;
    void finish();
    void prepare_mix();

    // exchange.cpp: one connection's life
    enum class Flush { Done, Blocked, Failed };
    void open(Connection& c, int64_t now);
    void finish_connect(Connection& c, int64_t now);
    void connected(Connection& c, int64_t now);
    void watch(Connection& c, int op, uint32_t events);
    void set_interest(Connection& c, bool read, bool write);
    void set_want_read(Connection& c, bool read) { set_interest(c, read, c.want_write); }
    void set_want_write(Connection& c, bool write) { set_interest(c, c.want_read, write); }
    bool pump(Connection& c, int64_t now);
    size_t requests_to_send(const Connection& c) const;
    void begin_write(Connection& c, size_t count, int64_t now);
    void compose_mixed(Connection& c, size_t count);
    bool next_is_head(const Connection& c) const;
    Flush flush(Connection& c, size_t max_bytes, int64_t now);
    void trickle(Connection& c, int64_t now);
    void read_responses(Connection& c, int64_t now, bool broken = false);
    void note_read(Connection& c, size_t bytes, int64_t now);
    bool parse(Connection& c, std::span<const char> bytes, int64_t now);
    bool on_response(Connection& c, Outcome outcome, int64_t now);
    void record(Connection& c, Outcome outcome, size_t slot, int64_t now);
    bool take_measured(int64_t now);
    void on_eof(Connection& c, int64_t now);
    void fail(Connection& c, ErrorKind kind, int64_t now, int err = 0);
    void count_error(const Connection& c, ErrorKind kind, int err = 0);
    void close(Connection& c, Phase next);
    void reconnect(Connection& c, int64_t now);
    void idle_settled(Connection& c, Phase next, int64_t now);
    void idle_disturbed(Connection& c);

    // tls_exchange.cpp: the handshake, and a connection's bytes through its SSL when it has one
    static constexpr int kUncleanEof = -1;  // receive()'s error for a TLS stream ended without close_notify (no errno is negative)
    void start_handshake(Connection& c, int64_t now);
    void continue_handshake(Connection& c, int64_t now);
    void handshake_done(Connection& c, int64_t now);
    IoResult receive(Connection& c, std::span<char> into);
    IoResult transmit(Connection& c, std::span<const char> bytes);
    bool holds_input(const Connection& c) const;
    bool waits_for_writable(const Connection& c) const;
    void on_unclean_eof(Connection& c, int64_t now);

    const Options& options_;
    const ClientContext* tls_;   // --tls: every socket handshakes; null: plain TCP
    SharedRun& run_;
    Share share_;
    Fd epoll_;
    SocketAddress server_;
    std::string batch_;          // options_.pipeline copies of the request, back to back
    size_t request_len_ = 0;
    bool head_request_ = false;            // the batch's request is a HEAD
    // --mix only: each entry's request and whether it is a HEAD, and this thread's draws. Idle and
    // slow connections send the batch, made of the first entry.
    std::vector<std::string> mix_requests_;
    std::vector<char> mix_head_;
    std::optional<MixChooser> chooser_;    // set: busy connections draw their requests
    std::vector<Connection> connections_;  // busy first, then slow, then idle; never resized
    std::vector<char> read_buf_;           // one per thread: responses are checked, never kept
    std::vector<epoll_event> events_;
    size_t busy_end_ = 0, slow_end_ = 0;   // connections_[0, busy_end_) busy, then up to slow_end_ slow
    size_t next_idle_ = 0;                 // the next idle connection to open
    int idle_opening_ = 0;                 // idle connections connecting or awaiting their answer
    uint64_t next_slot_ = 0;               // open loop: the next slot of this thread's schedule
    double slot_period_ns_ = 0;            // open loop: between two of this thread's slots
    double slot_phase_ = 0;                // open loop: offset, in slots, so threads interleave
    int64_t next_housekeeping_ns_ = 0;
    int64_t next_trickle_ns_ = 0;
    int64_t next_read_tick_ns_ = 0;        // --read-rate: connections out of tokens read on then
    bool opening_crowd_ = true;            // before `go`: the crowd opens; busy and slow connections wait, connected
};

}  // namespace one::loadgen
