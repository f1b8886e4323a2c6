// tls: loadgen's side of OpenSSL. The one client context, a connection line's TLS state, and the
// three calls the worker makes (handshake, read, write), each sorted into one small result.
//
// Only tls.cpp includes <openssl/ssl.h>: the rest of loadgen, and the tests that include its
// headers, see the two OpenSSL types it names declared, not defined.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

struct ssl_st;          // SSL
struct ssl_session_st;  // SSL_SESSION
struct ssl_ctx_st;      // SSL_CTX

namespace one::loadgen {

struct Options;
struct Connection;

struct SslFree { void operator()(ssl_st* ssl) const; };
struct SessionFree { void operator()(ssl_session_st* session) const; };
using SslPtr = std::unique_ptr<ssl_st, SslFree>;
using SessionPtr = std::unique_ptr<ssl_session_st, SessionFree>;

// One connection line's TLS. The SSL goes with each socket; the ticket stays across reconnects, so
// the next socket of the same line can offer it. Only the line's thread ever touches either.
struct TlsState {
    SslPtr ssl;                     // null: plain, or no socket yet
    SessionPtr ticket;              // resume mode: the newest resumable session the server gave this line
    bool offered = false;           // this socket's handshake offered `ticket`
    bool read_needs_write = false;  // the last read stopped until the socket is writable
    bool write_needs_read = false;  // the last write stopped until the socket is readable
    uint32_t tickets = 0;           // NewSessionTickets received on this socket, added to the stats at close
    int64_t handshake_start_ns = 0;

    // Forgets the socket's TLS (freeing its SSL, with no close_notify) and keeps the line's ticket.
    void drop_socket();
};

// What one SSL_connect, SSL_read_ex or SSL_write_ex came to.
enum class TlsStop : uint8_t {
    None,         // done: `n` bytes moved (or the handshake finished)
    WantRead,     // call again once the socket is readable
    WantWrite,    // call again once the socket is writable
    CloseNotify,  // the peer ended the stream properly
    Truncated,    // the stream ended without close_notify: what came before may be cut short
    Reset,        // the socket failed: `err` says how (ECONNRESET, EPIPE, ...)
    Protocol,     // OpenSSL refused something: an alert, a bad record, no common version or cipher
};
struct TlsStep {
    size_t n = 0;
    TlsStop stop = TlsStop::None;
    int err = 0;              // Reset: the errno
    unsigned long code = 0;   // Protocol: OpenSSL's error code, for tls_reason()

    bool fatal() const { return stop == TlsStop::Truncated || stop == TlsStop::Reset || stop == TlsStop::Protocol; }
};

TlsStep tls_connect(ssl_st* ssl);
TlsStep tls_read(ssl_st* ssl, std::span<char> into);          // into.size() > 0
TlsStep tls_write(ssl_st* ssl, std::span<const char> bytes);  // bytes.size() > 0: the same bytes again after a Want
bool tls_holds_input(ssl_st* ssl);   // OpenSSL holds bytes already read from the socket, which epoll cannot see
bool tls_resumed(ssl_st* ssl);       // the finished handshake resumed a session
std::string tls_describe(ssl_st* ssl);   // "TLSv1.3 TLS_AES_256_GCM_SHA384"
std::string tls_reason(unsigned long code);  // OpenSSL's words for an error code

// The process's one SSL_CTX. Set up completely in the constructor, before any worker starts; after
// that it is only read, and SSL_new from several threads at once is safe.
class ClientContext {
public:
    explicit ClientContext(const Options& options);  // throws std::runtime_error("TLS: " + OpenSSL's reason)
    ~ClientContext();
    ClientContext(const ClientContext&) = delete;
    ClientContext& operator=(const ClientContext&) = delete;

    // A client SSL on `fd` (which stays the owner of the descriptor), belonging to `c`, offering
    // c.tls.ticket in resume mode. Null when OpenSSL cannot make one.
    SslPtr open(int fd, Connection& c) const;

private:
    static int on_new_session(ssl_st* ssl, ssl_session_st* session);

    ssl_ctx_st* ctx_ = nullptr;
    std::string sni_;
    bool resume_ = false;
};

}  // namespace one::loadgen
