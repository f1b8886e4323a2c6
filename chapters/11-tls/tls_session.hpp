// tls_session: one connection's TLS, inside the event loop.
//
// OpenSSL reads and writes the non-blocking socket itself (SSL_set_fd). When it cannot go on it
// says which way it is stuck: SSL_ERROR_WANT_READ or SSL_ERROR_WANT_WRITE. That is the only thing
// the loop needs, turned into the poller's interest. The handshake needs no code of its own: the
// first SSL_read of a server-side session runs it, and returns data only once it is done.
#pragma once

#include "common/narrate.hpp"
#include "common/status.hpp"
#include "common/transport.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace one::tls {

class Session final : public Transport {
public:
    explicit Session(SSL* ssl) : ssl_(ssl) {}  // takes ownership; accept state and fd already set
    ~Session() override { SSL_free(ssl_); }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    IoResult read(std::span<char> into) override {
        size_t n = 0;
        bool handshaking = !established();
        ERR_clear_error();  // SSL_get_error reads the thread's error queue: nothing stale in it
        int ok = SSL_read_ex(ssl_, into.data(), into.size(), &n);
        if (handshaking && established()) handshake_done();
        if (ok != 1) return stopped(/*reading=*/true);
        status::count_bytes_in(n);
        if (narrate::on) say("SSL_read -> " + std::to_string(n) + " bytes of plaintext");
        return moved(n);
    }

    IoResult write(std::span<const char> bytes) override {
        size_t n = 0;
        ERR_clear_error();
        if (SSL_write_ex(ssl_, bytes.data(), bytes.size(), &n) != 1) return stopped(/*reading=*/false);
        status::count_bytes_out(n);
        if (narrate::on) say("SSL_write " + std::to_string(n) + " of " + std::to_string(bytes.size()) + " bytes, encrypted");
        return moved(n);
    }

    Interest waiting_for() const override { return want_; }
    bool crossed() const override { return crossed_; }
    // Not SSL_pending, which counts only a record already opened: with read-ahead, the next
    // records may sit sealed in OpenSSL's buffer, read from the socket and never reported again.
    bool holds_input() const override { return SSL_has_pending(ssl_) == 1; }
    bool established() const override { return SSL_is_init_finished(ssl_) == 1; }

    // One close_notify, and no wait for the peer's: the socket closes right after (RFC 8446 §6.1
    // lets the side that closes first go without reading the answer).
    void shut_down() override {
        // After a fatal error OpenSSL forbids it: the stream is no longer trusted. And once is
        // enough: a lingering connection sends it before TCP's end, then closes later.
        if (established() && !failed_ && !closed_) {
            closed_ = true;
            ERR_clear_error();
            SSL_shutdown(ssl_);
            if (narrate::on) say("close_notify sent: the client can tell this end from a cut");
        }
    }

    // kTLS: once the handshake is done, OpenSSL gave the keys to the kernel (if it could), and
    // the socket encrypts what it is given.
    bool sends_files() const override { return kernel_encrypts_; }

    IoResult send_file(int fd, off_t offset, size_t length) override {
        ERR_clear_error();
        ossl_ssize_t n = SSL_sendfile(ssl_, fd, offset, length, 0);
        if (n < 0) return stopped(/*reading=*/false);
        status::count_bytes_out(static_cast<uint64_t>(n));
        if (narrate::on) say("SSL_sendfile " + std::to_string(n) + " bytes of the file, encrypted by the kernel (kTLS)");
        return moved(static_cast<size_t>(n));  // 0: the file ended early
    }

private:
    void handshake_done() {
        kernel_encrypts_ = BIO_get_ktls_send(SSL_get_wbio(ssl_)) > 0;
        if (narrate::on)
            say(std::string("TLS handshake done: ") + SSL_get_version(ssl_) + ", " + SSL_get_cipher_name(ssl_) +
                (SSL_session_reused(ssl_) ? ", resumed from a ticket" : ", full") +
                (kernel_encrypts_ ? ", the kernel encrypts from now on (kTLS)" : ""));
    }

    void say(const std::string& text) const { narrate::line("fd " + std::to_string(SSL_get_fd(ssl_)) + ": " + text); }

    IoResult moved(size_t n) {
        crossed_ = false;
        return {static_cast<ssize_t>(n), 0};
    }

    IoResult stopped(bool reading) {
        int err = errno;  // before anything else can change it
        switch (SSL_get_error(ssl_, 0)) {
        case SSL_ERROR_WANT_READ:
            want_ = {true, false};
            crossed_ = !reading;  // a write that needs the peer's message first
            if (narrate::on)
                say(!established() ? "TLS handshake -> WANT_READ: what it had to say is sent; it waits for the client's next message"
                    : reading      ? "SSL_read -> WANT_READ"
                                   : "SSL_write -> WANT_READ: the write waits for the client's message");
            return {0, EAGAIN};
        case SSL_ERROR_WANT_WRITE:
            want_ = {false, true};
            crossed_ = reading;   // a read (the handshake, a ticket) that must send first
            if (narrate::on) say(std::string(reading ? "SSL_read" : "SSL_write") + " -> WANT_WRITE" + (reading ? ": the read must send first" : ""));
            return {0, EAGAIN};
        case SSL_ERROR_ZERO_RETURN:
            if (narrate::on) say("SSL_read -> close_notify: the client has closed its side");
            return {0, 0};        // the peer's close_notify: a clean end, read as EOF
        case SSL_ERROR_SYSCALL:
            failed_ = true;
            if (narrate::on) say(std::string("TLS: ") + (err ? std::strerror(err) : "the connection ended without close_notify"));
            return {0, err ? err : ECONNRESET};
        default:
            // Garbage instead of a ClientHello, a version or cipher we refuse, a bad record, and
            // (OpenSSL 3) an end of stream without close_notify: a truncation, which must never
            // pass for the end of a response.
            failed_ = true;
            if (narrate::on) say("TLS: " + reason());
            return {0, EPROTO};
        }
    }

    static std::string reason() {
        unsigned long code = ERR_peek_error();
        const char* text = code ? ERR_reason_error_string(code) : nullptr;
        return text ? text : "protocol error";
    }

    SSL* ssl_;
    Interest want_{};
    bool crossed_ = false;
    bool failed_ = false;
    bool closed_ = false;  // close_notify sent
    bool kernel_encrypts_ = false;
};

}  // namespace one::tls
