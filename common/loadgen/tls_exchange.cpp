// tls_exchange: a connection's life over TLS. Once connected it handshakes (Phase::Handshaking),
// inside the same epoll loop as everything else; then its bytes pass through its SSL, and every
// verdict is turned into the IoResult the plain path already understands.
//
// loadgen never sends close_notify, so it never calls SSL_shutdown, not even after an error
// (where OpenSSL forbids it). Its own closes are abortive (the run's end) or come after the server
// closed (Connection: close), as most browsers and load tools do.
#include "net.hpp"
#include "worker.hpp"

#include <cerrno>

namespace one::loadgen {

void Worker::start_handshake(Connection& c, int64_t now) {
    c.tls.ssl = tls_->open(c.fd.get(), c);
    if (!c.tls.ssl) {
        ++stats.tls.failed;
        return fail(c, ErrorKind::Tls, now);
    }
    c.phase = Phase::Handshaking;
    c.tls.handshake_start_ns = now;
    continue_handshake(c, now);  // the socket is writable: the ClientHello goes out at once
}

// One more step of the handshake, whatever readiness (or error) the socket reported.
void Worker::continue_handshake(Connection& c, int64_t now) {
    TlsStep step = tls_connect(c.tls.ssl.get());
    switch (step.stop) {
    case TlsStop::None: return handshake_done(c, now);
    case TlsStop::WantRead: return set_interest(c, true, false);
    case TlsStop::WantWrite: return set_interest(c, false, true);
    default:
        ++stats.tls.failed;
        // A reset is counted as one, as it would be without TLS; everything else is TLS's own failure.
        return fail(c, step.stop == TlsStop::Reset ? classify_errno(step.err) : ErrorKind::Tls, now, step.err);
    }
}

void Worker::handshake_done(Connection& c, int64_t now) {
    ssl_st* ssl = c.tls.ssl.get();
    TlsStats& t = stats.tls;
    bool resumed = tls_resumed(ssl);
    ++(resumed ? t.resumed : t.full);
    if (c.tls.offered && !resumed) ++t.not_resumed;  // the server refused the ticket: unknown key, reload, expired
    // Before `go` the timeline is still being written by the main thread: not read until then.
    if (c.role == Role::Busy && !opening_crowd_ && run_.in_window(now)) {
        ++(resumed ? t.window_resumed : t.window_full);
        // The clock read now, not the event's: one SSL_connect may have done the whole handshake.
        (resumed ? t.resumed_us : t.full_us).record((now_ns() - c.tls.handshake_start_ns + 500) / 1000);
    }
    if (t.version.empty()) t.version = tls_describe(ssl);
    connected(c, now);
}

// read_some, or a TLS read sorted into its IoResult: a stop for the other direction arms it.
IoResult Worker::receive(Connection& c, std::span<char> into) {
    if (!c.tls.ssl) return read_some(c.fd.get(), into);
    TlsStep step = tls_read(c.tls.ssl.get(), into);
    bool crossed = step.stop == TlsStop::WantWrite;
    if (crossed != c.tls.read_needs_write) {
        c.tls.read_needs_write = crossed;
        set_want_write(c, waits_for_writable(c));
    }
    switch (step.stop) {
    case TlsStop::None: return {static_cast<ssize_t>(step.n), 0};
    case TlsStop::WantRead:
    case TlsStop::WantWrite: return {0, EAGAIN};
    case TlsStop::CloseNotify: return {0, 0};  // a proper end: on_eof, exactly as a plain FIN
    case TlsStop::Truncated: return {0, kUncleanEof};
    case TlsStop::Reset: return {0, step.err};
    case TlsStop::Protocol: return {0, EPROTO};  // classify_errno() sorts it as ErrorKind::Tls
    }
    return {0, EPROTO};
}

// write_some, or a TLS write sorted the same way. A write that waits for readable watches EPOLLIN
// even when a --read-rate bucket had switched it off.
IoResult Worker::transmit(Connection& c, std::span<const char> bytes) {
    if (!c.tls.ssl) return write_some(c.fd.get(), bytes);
    TlsStep step = tls_write(c.tls.ssl.get(), bytes);
    c.tls.write_needs_read = step.stop == TlsStop::WantRead;
    if (c.tls.write_needs_read) set_want_read(c, true);
    switch (step.stop) {
    case TlsStop::None: return {static_cast<ssize_t>(step.n), 0};
    case TlsStop::WantRead:
    case TlsStop::WantWrite: return {0, EAGAIN};
    case TlsStop::CloseNotify:
    case TlsStop::Truncated: return {0, EPIPE};  // the server is gone: a write can only fail
    case TlsStop::Reset: return {0, step.err};
    case TlsStop::Protocol: return {0, EPROTO};
    }
    return {0, EPROTO};
}

// SSL_read returns at most one record, and what of it did not fit stays inside OpenSSL.
bool Worker::holds_input(const Connection& c) const { return c.tls.ssl && tls_holds_input(c.tls.ssl.get()); }

// Whether EPOLLOUT must be watched: a write waits for room (a slow client's waits for its tick),
// or a TLS read waits to write. Level-triggered, it would wake the loop for ever on a writable socket.
bool Worker::waits_for_writable(const Connection& c) const {
    return c.tls.read_needs_write || (c.writing() && c.role != Role::Slow && !c.tls.write_needs_read);
}

// The server ended the stream without close_notify. Whatever came last may be cut short, so a body
// that ends at the close is never counted as whole: that is what close_notify is for.
void Worker::on_unclean_eof(Connection& c, int64_t now) {
    ++stats.tls.unclean_closes;
    if (c.in_flight() == 0) return reconnect(c, now);  // a quiet keep-alive connection, closed rudely
    fail(c, c.checker.started() ? ErrorKind::BadFraming : ErrorKind::Reset, now);
}

}  // namespace one::loadgen
