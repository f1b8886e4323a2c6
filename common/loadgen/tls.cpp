// tls: the client context, and OpenSSL's verdicts sorted in one place.
#include "tls.hpp"

#include "connection.hpp"
#include "options.hpp"

#include <cerrno>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdexcept>

namespace one::loadgen {

namespace {

constexpr unsigned char kAlpnHttp11[] = "\x08http/1.1";  // length-prefixed list of one protocol

[[noreturn]] void throw_openssl(const std::string& what) {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    throw std::runtime_error("TLS: " + what + (code ? ": " + tls_reason(code) : ""));
}

// Whether this SSL_ERROR_SSL is OpenSSL 3's report of an EOF with no close_notify before it.
bool unexpected_eof(unsigned long code) {
    return ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

// Sorts the result of an OpenSSL call made right before, with the thread's error queue cleared
// first: a stale entry there would turn a WANT_READ into SSL_ERROR_SSL. `rc` is the call's own
// return value and `err` the errno captured straight after it.
TlsStep sort(ssl_st* ssl, int rc, int err, size_t n) {
    TlsStep step;
    switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_NONE: step.n = n; break;
    case SSL_ERROR_WANT_READ: step.stop = TlsStop::WantRead; break;
    case SSL_ERROR_WANT_WRITE: step.stop = TlsStop::WantWrite; break;
    case SSL_ERROR_ZERO_RETURN: step.stop = TlsStop::CloseNotify; break;
    case SSL_ERROR_SYSCALL:  // errno 0: an EOF with no close_notify, as OpenSSL still reports it in places
        step.stop = err != 0 ? TlsStop::Reset : TlsStop::Truncated;
        step.err = err;
        break;
    default:  // SSL_ERROR_SSL, and anything a client without callbacks never expects
        step.code = ERR_peek_error();
        step.stop = unexpected_eof(step.code) ? TlsStop::Truncated : TlsStop::Protocol;
        break;
    }
    ERR_clear_error();  // nothing stale left for the next call on this thread
    return step;
}

}  // namespace

void SslFree::operator()(ssl_st* ssl) const { SSL_free(ssl); }
void SessionFree::operator()(ssl_session_st* session) const { SSL_SESSION_free(session); }

void TlsState::drop_socket() {
    // An SSL freed before any SSL_shutdown counts as "not shut down properly", and SSL_free then
    // marks its current session not resumable. That session is this line's ticket (OpenSSL's copy
    // and ours are one object), so no reconnect would ever resume. Setting the shutdown state by
    // hand sends nothing, and keeps the ticket good, as TLS 1.1 and later allow.
    if (ssl) SSL_set_shutdown(ssl.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    ssl.reset();  // SSL_free writes nothing and closes nothing: the Fd is the descriptor's owner
    offered = read_needs_write = write_needs_read = false;
    tickets = 0;
    handshake_start_ns = 0;
}

TlsStep tls_connect(ssl_st* ssl) {
    ERR_clear_error();
    errno = 0;
    int rc = SSL_connect(ssl);
    int err = errno;
    return sort(ssl, rc, err, 0);
}

TlsStep tls_read(ssl_st* ssl, std::span<char> into) {
    ERR_clear_error();
    errno = 0;
    size_t n = 0;
    int rc = SSL_read_ex(ssl, into.data(), into.size(), &n);
    int err = errno;
    return sort(ssl, rc, err, n);
}

TlsStep tls_write(ssl_st* ssl, std::span<const char> bytes) {
    ERR_clear_error();
    errno = 0;
    size_t n = 0;
    int rc = SSL_write_ex(ssl, bytes.data(), bytes.size(), &n);
    int err = errno;
    return sort(ssl, rc, err, n);
}

bool tls_holds_input(ssl_st* ssl) { return SSL_has_pending(ssl) == 1; }

bool tls_resumed(ssl_st* ssl) { return SSL_session_reused(ssl) == 1; }

std::string tls_describe(ssl_st* ssl) { return std::string(SSL_get_version(ssl)) + " " + SSL_get_cipher_name(ssl); }

std::string tls_reason(unsigned long code) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

ClientContext::ClientContext(const Options& o) : ctx_(SSL_CTX_new(TLS_client_method())), sni_(o.tls_sni), resume_(o.tls_resume()) {
    if (!ctx_) throw_openssl("cannot make a client context");
    // A version named is the only one offered; "any" is 1.2 up to the highest this OpenSSL speaks (0).
    int pinned = o.tls_version == "1.2" ? TLS1_2_VERSION : o.tls_version == "1.3" ? TLS1_3_VERSION : 0;
    if (!SSL_CTX_set_min_proto_version(ctx_, pinned ? pinned : TLS1_2_VERSION) || !SSL_CTX_set_max_proto_version(ctx_, pinned))
        throw_openssl("cannot limit the protocol versions");
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);  // loadgen measures the server, not its certificate
    // Partial writes make SSL_write_ex return after each record, as send() returns after part of a
    // buffer; a moving buffer lets a retry come from a std::string that reallocated, with the same
    // bytes. Released buffers keep a crowd of idle TLS connections small.
    SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_alpn_protos(ctx_, kAlpnHttp11, sizeof kAlpnHttp11 - 1) != 0)  // 0 is success here
        throw_openssl("cannot offer ALPN http/1.1");
    // TLS 1.3 tickets come after the handshake, so they are caught as they arrive. Without
    // SSL_SESS_CACHE_CLIENT the callback never runs on a client; no internal store, since each
    // line keeps its own ticket. Full mode counts tickets too, but offers none.
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE | SSL_SESS_CACHE_NO_AUTO_CLEAR);
    SSL_CTX_sess_set_new_cb(ctx_, on_new_session);
    SSL_CTX_set_app_data(ctx_, this);  // on_new_session finds the mode here
    // Not SSL_OP_IGNORE_UNEXPECTED_EOF: it would make a truncated stream look properly closed.
}

ClientContext::~ClientContext() { SSL_CTX_free(ctx_); }

SslPtr ClientContext::open(int fd, Connection& c) const {
    ERR_clear_error();
    SslPtr ssl(SSL_new(ctx_));
    bool ok = ssl && SSL_set_fd(ssl.get(), fd) == 1;  // a socket BIO that does not close the descriptor
    if (ok) {
        SSL_set_connect_state(ssl.get());
        SSL_set_app_data(ssl.get(), &c);  // connections never move: a worker never resizes its vector
        if (!sni_.empty()) ok = SSL_set_tlsext_host_name(ssl.get(), sni_.c_str()) == 1;
    }
    // A TLS 1.3 ticket is single use (RFC 8446 C.4): once a handshake resumed it, OpenSSL marks the
    // session not resumable, and offering it anyway would send no ticket at all, a "refusal" the
    // server never made. Such a line offers nothing until the server sends a fresh ticket.
    if (c.tls.ticket && !SSL_SESSION_is_resumable(c.tls.ticket.get())) c.tls.ticket.reset();
    if (ok && resume_ && c.tls.ticket) {
        ok = SSL_set_session(ssl.get(), c.tls.ticket.get()) == 1;  // takes its own reference
        c.tls.offered = ok;
    }
    ERR_clear_error();
    return ok ? std::move(ssl) : nullptr;
}

// A NewSessionTicket arrived (inside SSL_read in TLS 1.3, inside SSL_connect in TLS 1.2), on the
// connection's own thread. Returning 1 keeps the reference OpenSSL hands over; 0 lets it free it.
int ClientContext::on_new_session(ssl_st* ssl, ssl_session_st* session) {
    auto& c = *static_cast<Connection*>(SSL_get_app_data(ssl));
    ++c.tls.tickets;
    const auto* context = static_cast<const ClientContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    // Idle connections never reconnect, so a ticket would only cost memory in a crowd.
    if (!context->resume_ || c.role == Role::Idle || !SSL_SESSION_is_resumable(session)) return 0;
    c.tls.ticket.reset(session);  // the newest replaces the older: TLS 1.3 tickets are best used once
    return 1;
}

}  // namespace one::loadgen
