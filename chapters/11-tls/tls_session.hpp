// tls_session: one connection's TLS, inside the event loop. (WIP: not yet built.)
//
// OpenSSL reads and writes the non-blocking socket itself (SSL_set_fd). When it cannot go on it
// says which way it is stuck: SSL_ERROR_WANT_READ or SSL_ERROR_WANT_WRITE. That is the only thing
// the loop needs, turned into the poller's interest. The handshake needs no code of its own: the
// first SSL_read of a server-side session runs it, and returns data only once it is done.
#pragma once

#include "common/transport.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace one::tls {

class Session final : public Transport {
public:
    explicit Session(SSL* ssl) : ssl_(ssl) {}  // takes ownership; accept state and fd already set
    ~Session() override { SSL_free(ssl_); }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    IoResult read(std::span<char> into) override {
        size_t n = 0;
        ERR_clear_error();  // SSL_get_error reads the thread's error queue: nothing stale in it
        if (SSL_read_ex(ssl_, into.data(), into.size(), &n) == 1) return moved(n);
        return stopped(/*reading=*/true);
    }

    IoResult write(std::span<const char> bytes) override {
        size_t n = 0;
        ERR_clear_error();
        if (SSL_write_ex(ssl_, bytes.data(), bytes.size(), &n) == 1) return moved(n);
        return stopped(/*reading=*/false);
    }

    Interest waiting_for() const override { return want_; }
    bool crossed() const override { return crossed_; }
    bool holds_input() const override { return SSL_pending(ssl_) > 0; }
    bool established() const override { return SSL_is_init_finished(ssl_) == 1; }

    // One close_notify, and no wait for the peer's: the socket closes right after (RFC 8446 §6.1
    // lets the side that closes first go without reading the answer).
    void shut_down() override {
        if (established()) {
            ERR_clear_error();
            SSL_shutdown(ssl_);
        }
    }

private:
    IoResult moved(size_t n) {
        crossed_ = false;
        return {static_cast<ssize_t>(n), 0};
    }

    IoResult stopped(bool reading) {
        switch (SSL_get_error(ssl_, 0)) {
        case SSL_ERROR_WANT_READ:
            want_ = {true, false};
            crossed_ = !reading;  // a write that needs the peer's message first
            return {0, EAGAIN};
        case SSL_ERROR_WANT_WRITE:
            want_ = {false, true};
            crossed_ = reading;   // a read (the handshake, a ticket) that must send first
            return {0, EAGAIN};
        case SSL_ERROR_ZERO_RETURN:
            return {0, 0};        // the peer's close_notify: a clean end, read as EOF
        case SSL_ERROR_SYSCALL:
            return {0, errno ? errno : ECONNRESET};
        default:
            // Garbage instead of a ClientHello, a version or cipher we refuse, a bad record, and
            // (OpenSSL 3) an end of stream without close_notify: a truncation, which must never
            // pass for the end of a response.
            return {0, EPROTO};
        }
    }

    SSL* ssl_;
    Interest want_{};
    bool crossed_ = false;
};

}  // namespace one::tls
