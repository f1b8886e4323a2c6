// tls_client: the harness's TLS, for chapter 11. A test Client speaks TLS through a TlsWire in a
// TLS run (--tls-dir DIR on the runner); these are the options, the answers and the run's files.
// No <openssl/ssl.h> here: a test that names OpenSSL's constants (TLS1_2_VERSION, SSL_R_...)
// includes it itself.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct ssl_st;
struct ssl_session_st;

namespace one::test {

// A TLS run: DIR holds ca.pem, and ecdsa.pem/.key and rsa.pem/.key, which the CA signed
// (scripts/test.sh makes them).
void set_tls_dir(std::string dir);
bool tls_dir_given();                         // are there certificates? (the server under test then gets one)
bool tls_run();                               // do the clients speak TLS? (--tls-dir given, and not --plain-port)
std::string tls_file(std::string_view name);  // DIR/name; fails the test without --tls-dir
// --plain-port (with --tls-dir): the server under test is given its TLS identity and also listens
// for plain HTTP (its --plain-port 0, chapter 11); the clients talk to that port, in plain HTTP.
void set_plain_port_run(bool on);
bool plain_port_run();

// A session a connection received (a ticket), to offer on another. Read-only once made, so it may
// be handed to Clients in other threads (SSL_set_session takes its own reference).
class TlsSession {
public:
    explicit TlsSession(ssl_session_st* owned);  // takes the reference
    ~TlsSession();
    TlsSession(const TlsSession&) = delete;
    TlsSession& operator=(const TlsSession&) = delete;
    ssl_session_st* get() const { return session_; }
    bool resumable() const;
    std::string version() const;  // "TLSv1.3"
    std::string ticket() const;   // the ticket's bytes, as the server sealed them

private:
    ssl_session_st* session_;
};

// How a Client speaks TLS. An aggregate, for designated initializers:
//   Client c(port, {.sni = "rsa.test", .verify_name = "rsa.test"});
// (Every member here has an initializer: g++ -Wextra warns about a designated initializer that
// leaves out one that has none.)
struct TlsOptions {
    bool on = true;                           // false: plain TCP even in a TLS run (raw hellos, garbage, stalls)
    bool handshake = true;                    // false: connect only; the test calls handshake()
    std::string sni = {};                     // "": none (RFC 6066: no SNI for an address)
    bool verify = true;                       // the chain against DIR/ca.pem, and the name below
    std::string verify_name = {};             // a DNS name the certificate must carry; "": the address connected to
    int min_version = 0;                      // TLS1_VERSION ... TLS1_3_VERSION; 0: OpenSSL's default
    int max_version = 0;
    std::string cipher_list = {};             // TLS 1.2 and below, OpenSSL's syntax ("DEFAULT:@SECLEVEL=0")
    std::string ciphersuites = {};            // TLS 1.3
    int security_level = -1;                  // -1: OpenSSL's; 0 lets it finish TLS 1.0/1.1 with a server that allowed it
    std::vector<std::string> alpn = {"http/1.1"};
    std::shared_ptr<TlsSession> resume = {};  // offer this ticket
};

// What a handshake settled on, and the certificate that came back.
struct TlsInfo {
    std::string version = {};                 // "TLSv1.3"
    std::string cipher = {};                  // "TLS_AES_256_GCM_SHA384"
    std::string alpn = {};                    // "" when the server chose none
    bool resumed = false;
    std::string ticket = {};                  // the session's ticket as the client holds it (TLS 1.2: the one offered, unless renewed)
    std::string key_kind = {};                // the certificate's key: "ECDSA P-256", "RSA 2048"
    std::vector<std::string> dns_names = {};  // its subjectAltName DNS entries
    long verify_result = 0;                   // X509_V_OK is 0
};

// Why a handshake, or a later record, failed.
struct TlsFailure {
    int ssl_error = 0;       // SSL_get_error's verdict
    unsigned long code = 0;  // the first error in OpenSSL's queue
    int reason = 0;          // its reason: SSL_R_TLSV1_ALERT_PROTOCOL_VERSION (the peer's alert 70), ...
    int sys_errno = 0;
    std::string text = {};   // for a message
};

// How the server's stream ended, as far as the client can tell.
enum class Ending {
    Open,         // not ended, or not looked at yet
    Eof,          // plain TCP: a FIN
    CloseNotify,  // TLS: the server's closing alert, then the end
    Truncated,    // TLS: a FIN without close_notify; what came before may be cut short
    Reset,        // ECONNRESET, EPIPE
    Error,        // TLS: any other fatal error (an alert, a record that does not decrypt)
    Timeout,      // nothing within the client's timeout
};
const char* name(Ending e);

// The ClientHello a client with `options` sends first (made in memory, never sent): a real hello
// to send raw, cut short or corrupted.
std::string client_hello(const TlsOptions& options = {});

// One connection's TLS, over a non-blocking socket it does not own. Every OpenSSL call is made
// under the wire's mutex, which is never held while waiting: two threads may use one wire at once
// (one writing, one reading, as the shared suite's floods do), taking turns inside OpenSSL.
class TlsWire {
public:
    // `address`: what the client connected to, checked against the certificate unless
    // options.verify_name names something else.
    TlsWire(int fd, const TlsOptions& options, const std::string& address);
    ~TlsWire();  // frees the session and sends nothing: close_notify() is the caller's choice
    TlsWire(const TlsWire&) = delete;
    TlsWire& operator=(const TlsWire&) = delete;

    bool handshake(int timeout_ms);  // the whole handshake; false: failure() says why
    bool established() const;
    // Up to into.size() bytes, waiting up to timeout_ms (0: not at all). 0 bytes: `ending` says
    // why (Timeout, or how the stream ended).
    size_t read(std::span<char> into, int timeout_ms, Ending& ending);
    // Every byte; false on an error, or after timeout_ms without progress.
    bool write_all(std::string_view bytes, int timeout_ms);
    void close_notify();  // one closing alert, unless the connection broke (never after a fatal error)

    TlsInfo info() const;
    TlsFailure failure() const;
    std::shared_ptr<TlsSession> session() const;  // the newest resumable one the server gave

    // The client context's new-session callback: keeps a ticket in the wire it came on.
    static int on_new_session(ssl_st* ssl, ssl_session_st* session);

private:
    struct Step;
    template <typename Call> Step attempt(Call call, bool writing = false);
    template <typename Call> Step run(Call call, int timeout_ms, bool writing = false);

    ssl_st* ssl_;
    int fd_;
    mutable std::mutex mutex_;
    Ending broken_ = Ending::Open;          // after SSL_ERROR_SSL or _SYSCALL: how, and no OpenSSL call again
    // A write the socket refused (EPIPE, ECONNRESET: the server closed): no more writes, but what
    // the server sent before it closed (a 408, say) is still in the socket to be read and decrypted,
    // as any client would (Python's ssl and curl do).
    bool write_refused_ = false;
    TlsFailure failure_;                    // the first fatal error
    std::shared_ptr<TlsSession> latest_;    // set inside SSL_read (1.3) or the handshake (1.2)
};

}  // namespace one::test
