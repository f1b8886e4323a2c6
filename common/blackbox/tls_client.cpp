// tls_client: the test clients' TLS. See tls_client.hpp.
//
// Every OpenSSL call goes through TlsWire::attempt, which does the three things OpenSSL's error
// reporting needs, in one place and under the wire's lock: an empty error queue before the call,
// errno straight after it, and SSL_get_error before anything else can touch the queue.
#include "tls_client.hpp"

#include <doctest/doctest.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <poll.h>

namespace one::test {
namespace {

std::string g_tls_dir;
bool g_plain_port_run = false;

// The process's one client context: made once, complete before the first SSL_new, never changed
// after (so SSL_new from several threads is safe). What differs per test is set per SSL.
SSL_CTX* client_context() {
    static std::once_flag once;
    static SSL_CTX* ctx = nullptr;
    std::call_once(once, [] {
        ctx = SSL_CTX_new(TLS_client_method());
        if (!g_tls_dir.empty()) SSL_CTX_load_verify_locations(ctx, (g_tls_dir + "/ca.pem").c_str(), nullptr);
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        // Without SSL_SESS_CACHE_CLIENT a client never hears of its sessions; the tests keep them
        // themselves (Client::tls_session), so OpenSSL's own store stays empty.
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE | SSL_SESS_CACHE_NO_AUTO_CLEAR);
        SSL_CTX_sess_set_new_cb(ctx, TlsWire::on_new_session);
    });
    return ctx;
}

// ALPN's wire form: each name preceded by its length.
std::string alpn_wire(const std::vector<std::string>& names) {
    std::string wire;
    for (const std::string& n : names) wire += static_cast<char>(n.size()) + n;
    return wire;
}

// Applies everything in `o` that is set; false when OpenSSL refuses one of them.
bool configure(SSL* ssl, const TlsOptions& o, const std::string& address) {
    bool ok = true;
    if (o.min_version) ok &= SSL_set_min_proto_version(ssl, o.min_version) == 1;
    if (o.max_version) ok &= SSL_set_max_proto_version(ssl, o.max_version) == 1;
    if (o.security_level >= 0) SSL_set_security_level(ssl, o.security_level);
    if (!o.cipher_list.empty()) ok &= SSL_set_cipher_list(ssl, o.cipher_list.c_str()) == 1;
    if (!o.ciphersuites.empty()) ok &= SSL_set_ciphersuites(ssl, o.ciphersuites.c_str()) == 1;
    std::string alpn = alpn_wire(o.alpn);
    if (!alpn.empty()) ok &= SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn.data()),
                                                 static_cast<unsigned>(alpn.size())) == 0;  // 0 is success here
    if (!o.sni.empty()) ok &= SSL_set_tlsext_host_name(ssl, o.sni.c_str()) == 1;
    if (o.resume) {
        // A copy: when a TLS 1.3 resumption brings a fresh ticket, OpenSSL marks the session it
        // offered not resumable (single use, RFC 8446 C.4), and the test's ticket must stay as it was.
        SSL_SESSION* copy = SSL_SESSION_dup(o.resume->get());
        ok &= copy && SSL_set_session(ssl, copy) == 1;
        SSL_SESSION_free(copy);  // the SSL holds its own reference
    }
    if (!o.verify) {
        SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    } else {
        SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
        if (!o.verify_name.empty()) ok &= SSL_set1_host(ssl, o.verify_name.c_str()) == 1;
        else if (!address.empty()) ok &= X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), address.c_str()) == 1;
    }
    return ok;
}

std::vector<std::string> dns_names(X509* cert) {
    std::vector<std::string> names;
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); ++i) {
        const GENERAL_NAME* entry = sk_GENERAL_NAME_value(sans, i);
        if (entry->type != GEN_DNS) continue;
        names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(entry->d.dNSName)),
                           static_cast<size_t>(ASN1_STRING_length(entry->d.dNSName)));
    }
    GENERAL_NAMES_free(sans);
    return names;
}

std::string key_kind(EVP_PKEY* key) {
    if (!key) return "";
    char group[64] = "";
    size_t length = 0;
    if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &length))
        return std::string("ECDSA ") + (std::strcmp(group, "prime256v1") == 0 ? "P-256" : group);
    if (EVP_PKEY_is_a(key, "RSA")) return "RSA " + std::to_string(EVP_PKEY_get_bits(key));
    return EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "?";
}

// The ticket a session holds, as the server sealed it; empty if it has none.
std::string ticket_bytes(const SSL_SESSION* session) {
    const unsigned char* bytes = nullptr;
    size_t length = 0;
    SSL_SESSION_get0_ticket(session, &bytes, &length);
    return bytes ? std::string(reinterpret_cast<const char*>(bytes), length) : std::string();
}

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void set_tls_dir(std::string dir) { g_tls_dir = std::move(dir); }
void set_plain_port_run(bool on) { g_plain_port_run = on; }
bool plain_port_run() { return g_plain_port_run; }
bool tls_dir_given() { return !g_tls_dir.empty(); }
bool tls_run() { return tls_dir_given() && !g_plain_port_run; }

std::string tls_file(std::string_view name) {
    if (!tls_dir_given()) FAIL("this test needs a TLS run: give the runner --tls-dir DIR (scripts/test.sh makes one)");
    return g_tls_dir + "/" + std::string(name);
}

const char* name(Ending e) {
    switch (e) {
    case Ending::Open: return "open";
    case Ending::Eof: return "EOF";
    case Ending::CloseNotify: return "close_notify";
    case Ending::Truncated: return "truncated (no close_notify)";
    case Ending::Reset: return "reset";
    case Ending::Error: return "TLS error";
    case Ending::Timeout: return "timeout";
    }
    return "?";
}

TlsSession::TlsSession(ssl_session_st* owned) : session_(owned) {}
TlsSession::~TlsSession() { SSL_SESSION_free(session_); }
bool TlsSession::resumable() const { return SSL_SESSION_is_resumable(session_) == 1; }

std::string TlsSession::ticket() const { return ticket_bytes(session_); }

std::string TlsSession::version() const {
    switch (SSL_SESSION_get_protocol_version(session_)) {
    case TLS1_3_VERSION: return "TLSv1.3";
    case TLS1_2_VERSION: return "TLSv1.2";
    default: return "older";
    }
}

std::string client_hello(const TlsOptions& options) {
    SSL* ssl = SSL_new(client_context());
    REQUIRE(ssl);
    configure(ssl, options, "");
    BIO* from_network = BIO_new(BIO_s_mem());
    BIO* to_network = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, from_network, to_network);  // the SSL owns both now
    SSL_set_connect_state(ssl);
    SSL_do_handshake(ssl);  // writes the hello, then wants the server's answer, which never comes
    char* bytes = nullptr;
    long length = BIO_get_mem_data(to_network, &bytes);
    std::string hello(bytes, static_cast<size_t>(length));
    SSL_free(ssl);
    ERR_clear_error();
    return hello;
}

// What one OpenSSL call came to.
struct TlsWire::Step {
    size_t n = 0;                  // bytes moved, when done
    bool done = false;             // the call succeeded
    bool want_read = false, want_write = false;
    Ending ending = Ending::Open;  // how the stream ended, when it did
};

TlsWire::TlsWire(int fd, const TlsOptions& options, const std::string& address) : ssl_(SSL_new(client_context())), fd_(fd) {
    REQUIRE(ssl_);
    SSL_set_app_data(ssl_, this);
    SSL_set_fd(ssl_, fd);  // the socket BIO does not close it: the Client's Fd does
    SSL_set_connect_state(ssl_);
    if (!configure(ssl_, options, address)) {
        failure_.text = "OpenSSL refused the client's own options";
        broken_ = Ending::Error;
    }
    ERR_clear_error();
}

TlsWire::~TlsWire() { SSL_free(ssl_); }

// OpenSSL hands over a new session (a ticket). TLS 1.3 sends them after the handshake, so this
// runs inside an SSL_read: under the wire's lock already.
int TlsWire::on_new_session(SSL* ssl, SSL_SESSION* session) {
    auto* wire = static_cast<TlsWire*>(SSL_get_app_data(ssl));
    if (!wire || !SSL_SESSION_is_resumable(session)) return 0;  // (app data: client_hello's SSL has none)  // OpenSSL frees it
    wire->latest_ = std::make_shared<TlsSession>(session);
    return 1;  // we keep OpenSSL's reference
}

template <typename Call>
TlsWire::Step TlsWire::attempt(Call call, bool writing) {
    std::lock_guard lock(mutex_);
    Step step;
    if (broken_ != Ending::Open) return {.ending = broken_};  // the man page: no OpenSSL call after a fatal error
    if (writing && write_refused_) return {.ending = Ending::Reset};
    ERR_clear_error();
    errno = 0;
    size_t n = 0;
    int rc = call(ssl_, &n);
    int sys_errno = errno;
    int verdict = SSL_get_error(ssl_, rc);
    unsigned long code = ERR_peek_error();
    if (rc == 1) return {.n = n, .done = true};
    if (verdict == SSL_ERROR_WANT_READ) return {.want_read = true};
    if (verdict == SSL_ERROR_WANT_WRITE) return {.want_write = true};
    if (verdict == SSL_ERROR_ZERO_RETURN) return {.ending = Ending::CloseNotify};
    if (verdict == SSL_ERROR_SYSCALL) step.ending = sys_errno ? Ending::Reset : Ending::Truncated;  // 0: EOF, the pre-3.0 way
    else if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        step.ending = Ending::Truncated;
    else step.ending = Ending::Error;
    if (writing && verdict == SSL_ERROR_SYSCALL && sys_errno) write_refused_ = true;
    else broken_ = step.ending;
    if (failure_.ssl_error == 0) {
        failure_ = {verdict, code, ERR_GET_REASON(code), sys_errno, ""};
        char text[256] = "";
        if (code) ERR_error_string_n(code, text, sizeof text);
        failure_.text = text;
        if (sys_errno) failure_.text += std::string(" errno: ") + std::strerror(sys_errno);
        long verified = SSL_get_verify_result(ssl_);
        if (verified != X509_V_OK) failure_.text += std::string(" verify: ") + X509_verify_cert_error_string(verified);
    }
    ERR_clear_error();
    return step;
}

// attempt() until it is done or the stream ends, waiting (outside the lock) for whatever OpenSSL
// asked for; a Timeout ending after timeout_ms without it.
template <typename Call>
TlsWire::Step TlsWire::run(Call call, int timeout_ms, bool writing) {
    int64_t give_up = now_ms() + timeout_ms;
    for (;;) {
        Step step = attempt(call, writing);
        if (!step.want_read && !step.want_write) return step;
        pollfd p{fd_, static_cast<short>(step.want_read ? POLLIN : POLLOUT), 0};
        int left = static_cast<int>(std::max<int64_t>(0, give_up - now_ms()));
        if (left == 0 || poll(&p, 1, left) == 0) return {.ending = Ending::Timeout};
    }
}

bool TlsWire::handshake(int timeout_ms) {
    Step step = run([](SSL* ssl, size_t*) { return SSL_connect(ssl); }, timeout_ms);
    if (step.ending == Ending::Timeout) {
        std::lock_guard lock(mutex_);
        if (failure_.text.empty()) failure_.text = "no handshake within " + std::to_string(timeout_ms) + " ms";
    }
    return step.done;
}

bool TlsWire::established() const {
    std::lock_guard lock(mutex_);
    return SSL_is_init_finished(ssl_) == 1;
}

size_t TlsWire::read(std::span<char> into, int timeout_ms, Ending& ending) {
    auto call = [&](SSL* ssl, size_t* n) { return SSL_read_ex(ssl, into.data(), into.size(), n); };
    // The first try never waits: plaintext OpenSSL already holds is in no socket for poll to see.
    Step step = timeout_ms > 0 ? run(call, timeout_ms) : attempt(call);
    ending = step.done ? Ending::Open : step.ending == Ending::Open ? Ending::Timeout : step.ending;
    return step.n;
}

bool TlsWire::write_all(std::string_view bytes, int timeout_ms) {
    // A stopped write is retried with the same bytes from `sent` on, as OpenSSL requires.
    for (size_t sent = 0; sent < bytes.size();) {
        Step step = run([&](SSL* ssl, size_t* n) { return SSL_write_ex(ssl, bytes.data() + sent, bytes.size() - sent, n); },
                        timeout_ms, /*writing=*/true);
        if (!step.done) return false;
        sent += step.n;
    }
    return true;
}

void TlsWire::close_notify() {
    std::lock_guard lock(mutex_);
    if (broken_ != Ending::Open || SSL_is_init_finished(ssl_) != 1) return;
    ERR_clear_error();
    SSL_shutdown(ssl_);  // once, without waiting for the answer (RFC 8446 6.1)
    ERR_clear_error();
}

TlsInfo TlsWire::info() const {
    std::lock_guard lock(mutex_);
    TlsInfo info;
    info.version = SSL_get_version(ssl_);
    info.cipher = SSL_get_cipher_name(ssl_);
    const unsigned char* alpn = nullptr;
    unsigned alpn_length = 0;
    SSL_get0_alpn_selected(ssl_, &alpn, &alpn_length);
    if (alpn) info.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_length);
    info.resumed = SSL_session_reused(ssl_) == 1;
    if (const SSL_SESSION* session = SSL_get_session(ssl_)) info.ticket = ticket_bytes(session);
    if (X509* cert = SSL_get0_peer_certificate(ssl_)) {
        info.key_kind = key_kind(X509_get0_pubkey(cert));
        info.dns_names = dns_names(cert);
    }
    info.verify_result = SSL_get_verify_result(ssl_);
    return info;
}

TlsFailure TlsWire::failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
}

std::shared_ptr<TlsSession> TlsWire::session() const {
    std::lock_guard lock(mutex_);
    return latest_;
}

}  // namespace one::test
