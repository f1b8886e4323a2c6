// event_server: one thread serving every connection, waking only when the kernel says a socket is
// ready. This is the loop of chapters 03-05 (and of each worker from 06 on); the chapters differ only
// in the Poller they hand it.
//
//   for (;;) {
//       wait for readiness, at most until the nearest deadline      (the chapter's Poller)
//       for each ready socket: accept, or read/answer/write          (common/connection.cpp)
//       close connections whose deadline has passed                  (idle, slow header, linger)
//   }
#pragma once

#include "app.hpp"
#include "connection.hpp"
#include "deadline_list.hpp"
#include "log.hpp"
#include "poller.hpp"
#include "server_options.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace one {

struct EventOptions {
    int header_timeout_ms = 10000;  // a request's head must arrive within this long of its first byte
    int max_connections = 0;        // 0: as many as the fd limit allows, less a few for the server itself
    FileSending file_sending = FileSending::Sendfile;  // how file bodies are sent (chapter 07's --copy)
};

// Adds --header-timeout and --max-connections to `cli`.
void add_event_options(CLI::App& cli, EventOptions& options);

// Raises the soft fd limit to the hard one and returns how many clients a loop may hold: the
// --max-connections asked for, or the limit less a few descriptors for the server itself. Logs both.
size_t connection_limit(const EventOptions& options);

// Chapter 09: the owner of a descriptor the loop watches that is not a client (see watch_other).
class Watched {
public:
    virtual ~Watched() = default;
    virtual void on_ready(const Fired& fired) = 0;
};

class EventServer {
public:
    // Serves clients of `listener` (already listening; made non-blocking here) with `poller`.
    EventServer(Fd listener, Poller& poller, const App& app, const ServerOptions& options, const EventOptions& events);

    void run();                          // until stopped and every connection is done
    void run_once(int longest_wait_ms);  // one turn of the loop: wait, dispatch, expire (tests use it)
    int listen_fd() const { return listeners_.empty() ? -1 : listeners_.front().fd.get(); }
    size_t connections() const { return count_; }
    size_t stale_events() const { return stale_events_; }

    // A descriptor that, when written to (8 bytes, as eventfd wants), wakes the loop and runs
    // `on_wake` on the loop's thread. write() is async-signal-safe, so a signal handler can use it.
    int make_waker(std::function<void()> on_wake);
    // The same for an eventfd of the caller's, which must stay open as long as the loop runs. The
    // loop reads it (resetting it to zero) before it calls `on_wake`, so a write that comes while
    // `on_wake` runs is never lost: it wakes the loop again.
    void watch_waker(int fd, std::function<void()> on_wake);

    // Stops accepting and lets every connection finish: the next response on each says
    // Connection: close, and connections quiet for a second are closed. run() returns when none is
    // left, or once `give_up_after` has passed, closing what is still open.
    void stop_gracefully(Clock::duration give_up_after = Clock::duration::max());
    bool stopping() const { return stopping_; }

    // Chapter 08: what would make the loop wait (slow routes, files not in the page cache) goes
    // to `offload`, and comes back through job_done().
    // Chapter 09, with `everything`: every request goes to `offload`, none is answered here.
    void hand_off_to(Offload& offload, bool everything = false);
    // Chapter 11: every connection accepted from now on speaks through a transport from `maker`
    // (a TLS session), and must finish its handshake within --header-timeout.
    void secure_with(TransportMaker& maker);
    // Chapter 11: clients of `listener` as well (already listening; made non-blocking here), who
    // speak plain HTTP whatever secure_with() says: the same loop with and without TLS, to compare.
    void also_accept_plain(Fd listener);
    // The job handed off for connection (fd, generation) is done: `answer` goes out on it (for a
    // file's warm-up there is none: sending goes on). If the connection closed meanwhile, and its
    // descriptor is perhaps another client's now, the generation tells: the result is dropped
    // and false returned.
    bool job_done(int fd, uint32_t generation, std::optional<http::Response> answer);

    // Chapter 09: watches `fd`, a descriptor of the caller's (a connection to a backend), for
    // `interest`, and passes its events to `owner` on the loop's thread. The first call gives it a
    // generation (0 before), as every client connection has, so that an event about a descriptor
    // closed and reused within one turn reaches nobody. Call forget_other() before closing it.
    // False if the poller cannot watch it (select: beyond FD_SETSIZE).
    bool watch_other(int fd, uint32_t& generation, Interest interest, Watched& owner);
    void forget_other(int fd);
    // Chapter 09: deadlines of the caller's, due in this loop: the loop wakes for the earliest,
    // takes each hook off `list` once its deadline has passed, and then calls `on_expired` with it.
    void add_deadlines(DeadlineList& list, std::function<void(DeadlineHook&)> on_expired);
    Clock::time_point turn_started() const { return turn_started_; }

    struct Counters {
        size_t accepted = 0;
        size_t empty_wakeups = 0;  // the listener was reported ready, but accept() found no one (another worker took it)
    };
    const Counters& counters() const { return counters_; }

private:
    struct Listener {
        Fd fd;
        bool plain;  // chapter 11: its clients get no transport
    };
    void dispatch(const Fired& fired);
    const Listener* listening_on(int fd) const;  // the listener on `fd`, or null
    void accept_clients(const Listener& from);
    void add_connection(Fd client, bool plain);
    void update(Connection& c);  // after I/O: tell the poller, move the timer, or close
    Connection* find(int fd, uint32_t generation);  // the connection an event is about, or null if it is gone
    void resume_readers();       // edge-triggered: connections that stopped at their share last turn
    void close_connection(Connection& c);
    void refuse(Fd client, status::Refusal why, bool plain);
    void expire_deadlines(Clock::time_point now);
    int next_timeout_ms(Clock::time_point now) const;
    void pause_accepting(Clock::time_point now);

    struct Waker {
        int fd;
        std::function<void()> on_wake;
    };
    struct Other {
        uint32_t generation = 0;
        Watched* owner = nullptr;
    };
    struct ExtraDeadlines {
        DeadlineList* list;
        std::function<void(DeadlineHook&)> on_expired;
    };

    std::vector<Listener> listeners_;  // the one given at construction, then chapter 11's plain one
    std::vector<Fd> own_wakers_;
    std::vector<Waker> wakers_;
    bool stopping_ = false;
    Clock::time_point give_up_at_ = Clock::time_point::max();  // stopping: close what is left then
    Counters counters_;
    Poller& poller_;
    LoopShared shared_;
    size_t max_body_;
    size_t max_connections_;
    // Declared before by_fd_, so destroyed after it: a connection's response body may belong to
    // chapter 09's proxy, which, told that its client has gone, forgets a descriptor of its own.
    std::vector<Other> others_;  // chapter 09: by descriptor, what watch_other() was given
    std::vector<ExtraDeadlines> extra_deadlines_;
    std::vector<std::unique_ptr<Connection>> by_fd_;  // the connection on each descriptor, or null
    size_t count_ = 0;
    uint32_t next_generation_ = 1;  // 0 is the listener's
    size_t stale_events_ = 0;
    std::vector<Fired> fired_;
    std::vector<Fired> resume_, resuming_;  // connections with more_to_read, for the next turn
    DeadlineList idle_, header_, linger_;
    bool accept_paused_ = false;
    TransportMaker* transports_ = nullptr;  // chapter 11
    Clock::time_point accept_resume_at_{};
    // Read once per turn, when the wait returns: every deadline armed in the turn starts from it.
    // A clock read per request was ~5% of the loop's own CPU, and a turn is short enough that
    // the deadlines it sets are late by nothing a client could notice.
    Clock::time_point turn_started_{};
    BurstLog out_of_fds_{"accept: out of file descriptors; serving the connections we have, accepting again in 100 ms"};
    BurstLog at_capacity_{"at --max-connections: answering new clients 503"};
    BurstLog beyond_poller_{"descriptor beyond what the poller can watch: answering 503"};
};

}  // namespace one
