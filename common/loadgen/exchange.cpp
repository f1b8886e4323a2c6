// exchange: one connection's life: connect, send requests, check responses, fail, reconnect.
// Per-connection I/O never throws; a failure is counted and closes that connection only.
#include "net.hpp"
#include "worker.hpp"

#include <algorithm>

namespace one::loadgen {

void Worker::open(Connection& c, int64_t now) {
    if (c.opened_before) ++stats.reconnects;
    c.opened_before = true;
    ++c.generation;
    int err = 0;
    c.fd = start_connect(server_, c.source, c.role == Role::Busy ? options_.rcvbuf : 0, err);
    if (!c.fd) return fail(c, classify_errno(err), now, err);
    c.phase = Phase::Connecting;
    c.deadline_ns = now + int64_t{options_.timeout_ms} * 1'000'000;
    watch(c, EPOLL_CTL_ADD, EPOLLOUT);  // writable means connected (or failed)
}

void Worker::finish_connect(Connection& c, int64_t now) {
    if (int err = connect_result(c.fd.get())) return fail(c, classify_errno(err), now, err);
    if (tls_) return start_handshake(c, now);  // --timeout's deadline now covers the handshake too
    connected(c, now);
}

// The connection is ready for requests (connected, and with --tls its handshake done).
void Worker::connected(Connection& c, int64_t now) {
    c.phase = Phase::Active;
    c.deadline_ns = 0;
    set_interest(c, true, false);
    if (opening_crowd_ && c.role != Role::Idle) return;  // connected early, to start with the clock
    if (c.role == Role::Slow) trickle(c, now);
    else pump(c, now);
}

void Worker::watch(Connection& c, int op, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = uint64_t{c.generation} << 32 | static_cast<uint64_t>(&c - connections_.data());
    if (::epoll_ctl(epoll_.get(), op, c.fd.get(), &ev) < 0) return fail(c, ErrorKind::Other, now_ns(), errno);
    c.want_read = (events & EPOLLIN) != 0;
    c.want_write = (events & EPOLLOUT) != 0;
}

// Changes the interest set only when it differs: most calls change nothing and cost no syscall.
void Worker::set_interest(Connection& c, bool read, bool write) {
    if (c.want_read != read || c.want_write != write)
        watch(c, EPOLL_CTL_MOD, (read ? EPOLLIN : 0u) | (write ? EPOLLOUT : 0u));
}

// Sends what the connection may send now. Returns false when it failed and was closed.
bool Worker::pump(Connection& c, int64_t now) {
    for (;;) {
        if (!c.writing()) {
            size_t count = requests_to_send(c);
            if (count == 0) break;
            begin_write(c, count, now);
        }
        Flush f = flush(c, SIZE_MAX, now);
        if (f == Flush::Failed) return false;
        if (f == Flush::Blocked) return true;  // the rest goes when the socket is ready (flush watches for it)
    }
    set_want_write(c, waits_for_writable(c));  // nothing to write: EPOLLOUT stays only for a TLS read that needs it
    return c.phase == Phase::Active;
}

size_t Worker::requests_to_send(const Connection& c) const {
    switch (c.role) {
    case Role::Busy:
        if (!options_.open_loop()) return c.in_flight() == 0 ? c.depth : 0;  // the next batch after the last answer
        return static_cast<size_t>(std::min(c.due - c.sent, c.depth - c.in_flight()));
    case Role::Idle:
        return c.sent == 0 ? 1 : 0;
    case Role::Slow:
        return 0;  // trickle() sends
    }
    return 0;
}

// Starts `count` requests: their clocks start now (closed loop) or at their slots (open loop,
// so the time a request spent queued behind a slow answer is part of its latency).
void Worker::begin_write(Connection& c, size_t count, int64_t now) {
    bool scheduled = options_.open_loop() && c.role == Role::Busy;
    for (uint64_t k = c.sent; k < c.sent + count; ++k)
        c.started[k % c.depth] = scheduled ? slot_time(k * busy_end_ + c.lane) : now;
    if (c.in_flight() == 0 && c.role != Role::Slow) c.deadline_ns = now + int64_t{options_.timeout_ms} * 1'000'000;
    c.write_at = 0;
    c.write_end = count * request_len_;
    if (chooser_ && c.role == Role::Busy) compose_mixed(c, count);  // --mix: its own bytes, not the batch's
    c.sent += count;
}

// --mix: draws the entries of requests [sent, sent + count) and lays their bytes end to end.
// The buffer keeps its capacity, so after the first few this allocates nothing. (Open loop: requests
// lost with a closed connection are drawn again when they are sent again.)
void Worker::compose_mixed(Connection& c, size_t count) {
    c.pending.clear();
    for (uint64_t k = c.sent; k < c.sent + count; ++k) {
        uint32_t entry = chooser_->next();
        c.entries[k % c.depth] = entry;
        c.pending += mix_requests_[entry];
    }
    c.out = c.pending.data();
    c.write_end = c.pending.size();
    // Nothing in flight: the checker waits for the first of these, and must know whether it is a HEAD's.
    if (c.in_flight() == 0) c.checker.start(options_.expect_status, mix_head_[c.entries[c.sent % c.depth]]);
}

// Whether the next response answers a HEAD (its head then announces a body that never comes). With
// nothing in flight it does not matter yet: compose_mixed() tells the checker when requests leave.
bool Worker::next_is_head(const Connection& c) const {
    if (!chooser_ || c.role != Role::Busy || c.in_flight() == 0) return head_request_;
    return mix_head_[c.entries[c.answered % c.depth]];
}

// Writes at most `max_bytes` of what is pending.
Worker::Flush Worker::flush(Connection& c, size_t max_bytes, int64_t now) {
    size_t until = c.write_end - c.write_at > max_bytes ? c.write_at + max_bytes : c.write_end;
    while (c.write_at < until) {
        // After a stop, the next call starts at the same write_at, so TLS gets the same bytes again, as it must.
        IoResult r = transmit(c, {c.out + c.write_at, until - c.write_at});
        if (r.would_block()) {
            set_want_write(c, waits_for_writable(c));  // a slow client just tries again at its next tick
            return c.phase == Phase::Active ? Flush::Blocked : Flush::Failed;
        }
        if (!r.ok()) {
            fail(c, classify_errno(r.error), now, r.error);
            return Flush::Failed;
        }
        c.write_at += static_cast<size_t>(r.n);
    }
    return Flush::Done;
}

// A slow client's tick: one more byte of its request, or the first byte of the next one.
void Worker::trickle(Connection& c, int64_t now) {
    if (!c.writing()) {
        if (c.in_flight() > 0) return;  // the request is out; the answer is the server's move
        begin_write(c, 1, now);
    }
    if (flush(c, 1, now) == Flush::Done && !c.writing())
        c.deadline_ns = now + int64_t{options_.timeout_ms} * 1'000'000;  // the last byte left: start the timeout
}

// Reads what the socket has, or with --read-rate what the bucket allows. Out of tokens, the connection
// stops watching EPOLLIN, or a socket left readable would wake the loop at once, again and again;
// read_tick() reads on. `broken`: the socket reported an error or a hangup, which epoll reports even
// unwatched, so it is read now, whole: the server is gone and feels no push-back any more.
void Worker::read_responses(Connection& c, int64_t now, bool broken) {
    if (c.phase == Phase::Held) return idle_disturbed(c);
    for (;;) {
        size_t len = broken ? read_buf_.size() : c.bucket.allowance(now, read_buf_.size());
        if (len == 0) return set_want_read(c, c.tls.write_needs_read);  // unless a TLS write waits for readable
        IoResult r = receive(c, {read_buf_.data(), len});
        if (r.would_block()) return set_want_read(c, true);  // tokens left: read as soon as more comes
        if (r.error == kUncleanEof) return on_unclean_eof(c, now);
        if (!r.ok()) return fail(c, classify_errno(r.error), now, r.error);
        if (r.peer_closed()) return on_eof(c, now);
        note_read(c, static_cast<size_t>(r.n), now);
        if (!parse(c, {read_buf_.data(), static_cast<size_t>(r.n)}, now)) return;
        // Drained: another read would say EAGAIN. Not over TLS while OpenSSL still holds bytes it
        // took from the socket (the rest of a record), which no epoll event would ever announce.
        if (static_cast<size_t>(r.n) < len && !holds_input(c)) return set_want_read(c, true);
    }
}

// Counts `bytes` just read. A slow reader's own pace makes its responses take long, so its timeout
// counts from the last byte read: only a server gone silent times out, not a big response.
void Worker::note_read(Connection& c, size_t bytes, int64_t now) {
    if (c.role == Role::Busy && run_.in_window(now)) stats.bytes_received += bytes;
    if (!c.bucket.limited()) return;
    c.bucket.spend(bytes);
    if (c.in_flight() > 0) c.deadline_ns = now + int64_t{options_.timeout_ms} * 1'000'000;
}

// Feeds the bytes to the checker, one response after another. Returns false once the connection closed.
bool Worker::parse(Connection& c, std::span<const char> bytes, int64_t now) {
    while (!bytes.empty()) {
        Step step = c.in_flight() > 0 ? c.checker.feed(bytes) : Step{0, Outcome::Malformed};  // else: unasked bytes
        bytes = bytes.subspan(step.used);
        if (step.outcome == Outcome::Partial) return true;
        if (step.outcome == Outcome::Malformed) {
            fail(c, ErrorKind::BadFraming, now);
            return false;
        }
        if (!on_response(c, step.outcome, now)) return false;
    }
    return true;
}

// A whole response arrived. Returns false when the connection closed (or was replaced).
bool Worker::on_response(Connection& c, Outcome outcome, int64_t now) {
    size_t slot = c.answered % c.depth;
    ++c.answered;
    record(c, outcome, slot, now);
    bool keep_alive = c.checker.keep_alive();
    c.checker.start(options_.expect_status, next_is_head(c));
    if (c.role == Role::Idle) {
        if (!keep_alive) ++stats.idle_closed_by_server;
        idle_settled(c, keep_alive ? Phase::Held : Phase::Finished, now);
        return keep_alive;
    }
    // Every request answered, yet bytes still to send: the server answered one it had not fully
    // received (a slow client's 408 or 400), and that exchange is over. With requests still in
    // flight the answer is to an earlier one, sent whole while a big later one goes out in parts.
    if (!keep_alive || (c.writing() && c.in_flight() == 0)) {
        reconnect(c, now);
        return false;
    }
    c.deadline_ns = c.in_flight() > 0 ? now + int64_t{options_.timeout_ms} * 1'000'000 : 0;
    return c.role == Role::Busy ? pump(c, now) : true;
}

// Counts the response to the request in ring slot `slot`.
void Worker::record(Connection& c, Outcome outcome, size_t slot, int64_t now) {
    if (c.role == Role::Busy) ++stats.completed_total;
    if (outcome != Outcome::Good) return count_error(c, ErrorKind::BadStatus);
    if (c.role == Role::Slow) ++stats.slow_completed;
    if (c.role == Role::Busy && run_.in_count_window(now)) ++stats.count_window_requests;
    if (c.role != Role::Busy || !run_.in_window(now) || !take_measured(now)) return;
    ++stats.requests;
    int64_t latency_us = (now - c.started[slot] + 500) / 1000;
    stats.latency_us.record(latency_us);
    if (!chooser_) return;
    EntryStats& entry = stats.mix[c.entries[slot]];
    ++entry.requests;
    entry.latency_us.record(latency_us);
}

// With --requests: counts one more measured request for all threads; false past the limit.
bool Worker::take_measured(int64_t now) {
    if (run_.request_limit == 0) return true;
    uint64_t n = run_.measured.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n == run_.request_limit) {
        run_.limit_reached_ns.store(now, std::memory_order_relaxed);
        run_.stop.store(true, std::memory_order_relaxed);
    }
    return n <= run_.request_limit;
}

void Worker::on_eof(Connection& c, int64_t now) {
    if (c.in_flight() == 0) return reconnect(c, now);  // the server closed a quiet keep-alive connection
    Outcome outcome = c.checker.finish_at_eof();
    if (outcome != Outcome::Malformed) {  // the close ended a body that had no length
        on_response(c, outcome, now);
        return;
    }
    fail(c, c.checker.started() ? ErrorKind::BadFraming : ErrorKind::Reset, now);  // cut short, or never answered
}

void Worker::fail(Connection& c, ErrorKind kind, int64_t now, int err) {
    count_error(c, kind, err);
    if (c.role == Role::Idle) idle_settled(c, Phase::Finished, now);  // an idle connection is not retried
    else close(c, Phase::Waiting);  // reopened at the next housekeeping turn, so a dead server is not hammered
}

void Worker::count_error(const Connection& c, ErrorKind kind, int err) {
    if (err == EADDRNOTAVAIL) ++stats.ports_exhausted;
    if (err == EMFILE || err == ENFILE) ++stats.out_of_fds;
    (c.role == Role::Slow ? stats.slow_errors : stats.errors)[static_cast<size_t>(kind)]++;
}

void Worker::close(Connection& c, Phase next) {
    stats.tls.tickets += c.tls.tickets;
    c.tls.drop_socket();  // before the descriptor goes, whose number may be reused at once
    c.fd.reset();
    c.phase = next;
    c.want_read = c.want_write = false;
    c.deadline_ns = 0;
    c.write_at = c.write_end = 0;
    c.checker.start(options_.expect_status, head_request_);
    // Requests in flight are lost. Open loop: put them back in the queue, clocks still running.
    if (options_.open_loop() && c.role == Role::Busy) c.sent = c.answered;
    else c.answered = c.sent;
}

void Worker::reconnect(Connection& c, int64_t now) {
    if (c.role == Role::Idle) {  // never reopened: the crowd's size is what the server kept
        ++stats.idle_closed_by_server;
        return idle_settled(c, Phase::Finished, now);
    }
    close(c, Phase::Waiting);
    open(c, now);
}

// An idle connection got its answer (Held) or gave up (Finished): the next one may open.
void Worker::idle_settled(Connection& c, Phase next, int64_t now) {
    if (next != Phase::Held) close(c, next);
    c.phase = next;
    c.deadline_ns = 0;
    --idle_opening_;
    if (crowd_settled()) stats.idle_ready_ns = now - run_.crowd_start_ns;
}

// A held idle connection turned readable: the server closed it (or said something unasked).
void Worker::idle_disturbed(Connection& c) {
    IoResult r = receive(c, read_buf_);
    if (r.would_block()) return;  // nothing, or over TLS a message with no data in it (a late ticket)
    if (r.n > 0) count_error(c, ErrorKind::BadFraming);
    else ++stats.idle_closed_by_server;
    if (r.error == kUncleanEof) ++stats.tls.unclean_closes;
    close(c, Phase::Finished);
}

}  // namespace one::loadgen
