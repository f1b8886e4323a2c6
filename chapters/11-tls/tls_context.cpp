// tls_context: certificates, protocol limits, SNI, ALPN and ticket keys. See tls_context.hpp.
#include "tls_context.hpp"

#include "tls_session.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdexcept>
#include <strings.h>
#include <sys/socket.h>

namespace one::tls {
namespace {

// The reason OpenSSL gives for its last failure, for a message a person can act on.
std::string last_error() {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown error";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw std::runtime_error(path + ": " + what + " (" + last_error() + ")");
}

std::vector<std::string> dns_names(X509* cert) {
    std::vector<std::string> names;
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
        if (name->type != GEN_DNS) continue;
        const ASN1_IA5STRING* dns = name->d.dNSName;
        names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)), static_cast<size_t>(ASN1_STRING_length(dns)));
    }
    GENERAL_NAMES_free(sans);
    return names;
}

std::string key_kind(EVP_PKEY* key) {
    char group[64] = "";
    size_t length = 0;
    if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &length))
        return std::string("ECDSA ") + (std::strcmp(group, "prime256v1") == 0 ? "P-256" : group);
    if (EVP_PKEY_is_a(key, "RSA")) return "RSA " + std::to_string(EVP_PKEY_get_bits(key));
    return EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "?";
}

// A certificate's DNS name against the name a client asked for, as RFC 6125 §6.4 has it: letters
// in any case, and a wildcard only as the whole leftmost label, standing for exactly one label:
// "*.wild.test" covers "a.wild.test" but neither "wild.test" nor "a.b.wild.test".
bool name_matches(std::string_view pattern, std::string_view name) {
    auto same = [](std::string_view a, std::string_view b) { return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0; };
    if (!pattern.starts_with("*.")) return same(pattern, name);
    size_t dot = name.find('.');
    return dot != 0 && dot != std::string_view::npos && same(pattern.substr(1), name.substr(dot));
}

// Why the kernel cannot take over the encryption (kTLS), or "" when it can. Asked of the kernel
// itself: attaching the "tls" upper layer to a socket that is not connected fails with ENOTCONN
// when the module is there, and with ENOENT when it is not (nor can be loaded).
std::string why_no_kernel_tls() {
#ifdef OPENSSL_NO_KTLS
    return "this OpenSSL was built without kTLS";
#else
    Fd probe(::socket(AF_INET, SOCK_STREAM, 0));
    if (!probe) return std::string("socket: ") + std::strerror(errno);
    if (::setsockopt(probe.get(), SOL_TCP, TCP_ULP, "tls", 3) == 0 || errno == ENOTCONN) return "";
    if (errno == ENOENT) return "the kernel has no tls module (where it exists, modprobe tls loads it)";
    return std::string("the kernel refuses it: ") + std::strerror(errno);
#endif
}

}  // namespace

Context::Context(const std::vector<Identity>& identities, bool kernel_tls)
    : no_kernel_tls_(kernel_tls ? why_no_kernel_tls() : "--no-ktls") {
    if (identities.empty()) throw std::runtime_error("no certificate: give --tls-cert and --tls-key");
    identities_.resize(identities.size());
    for (size_t i = 0; i < identities.size(); ++i) identities_[i].ctx = make_ctx(identities[i], identities_[i]);
    rotate_ticket_keys();
    rotate_ticket_keys();  // both keys random: no ticket can match an all-zero name
}

// A worker's first handshake maps about 3.4 MiB of libcrypto's and libssl's code and tables into
// the process (pages the page cache shares with every other worker, but counted in each one's
// RSS) and sets up OpenSSL's state for each algorithm: several milliseconds for the first client.
// Paid here instead, before the worker takes any client, as chapter 10 touches its buffers up
// front: each certificate shakes hands once with a client in memory (a BIO pair: what one side
// writes, the other reads), tickets included.
void Context::warm_up() {
    SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
    for (Named& n : identities_) {
        SSL* client = client_ctx ? SSL_new(client_ctx) : nullptr;
        SSL* server = SSL_new(n.ctx);
        BIO *client_end = nullptr, *server_end = nullptr;
        if (client && server && BIO_new_bio_pair(&client_end, 0, &server_end, 0) == 1) {
            SSL_set_bio(client, client_end, client_end);
            SSL_set_bio(server, server_end, server_end);
            SSL_set_connect_state(client);
            SSL_set_accept_state(server);
            for (int flight = 0; flight < 8 && !(SSL_is_init_finished(client) && SSL_is_init_finished(server)); ++flight) {
                SSL_do_handshake(client);
                SSL_do_handshake(server);
            }
        }
        SSL_free(client);
        SSL_free(server);
    }
    SSL_CTX_free(client_ctx);
    ERR_clear_error();  // a warm-up that failed costs the workers their first handshake's set-up, nothing more
}

Context::~Context() {
    for (Named& n : identities_) SSL_CTX_free(n.ctx);
}

SSL_CTX* Context::make_ctx(const Identity& identity, Named& named) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) throw std::runtime_error("SSL_CTX_new: " + last_error());
    named.ctx = ctx;  // freed by the destructor, or by the caller's unwinding through identities_
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // TLS 1.2: forward-secret key exchange and AEAD only (TLS 1.3's suites are all AEAD already).
    if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) throw std::runtime_error("cipher list: " + last_error());
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    // After each handshake OpenSSL gives the kernel the keys (setsockopt TCP_ULP "tls", then
    // TLS_TX, and for TLS 1.2 TLS_RX too), if the cipher is one the kernel has; each session says
    // whether it can send files that way (sends_files).
    if (no_kernel_tls_.empty()) SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
    // The loop's output buffer may move between a write that stopped and its retry, and a write
    // may take part of what it is given: both are how the loop writes a plain socket too.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    // Without read-ahead OpenSSL reads a record in two calls: its 5-byte header, then the rest.
    // With it, one read takes whatever the socket has (a session then reports buffered records
    // with SSL_has_pending, see holds_input).
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);  // tickets only: no state per session on the server
    // TLS 1.3: one ticket after a handshake, not OpenSSL's two. A client spends one per reconnection,
    // and each resumption brings the next (on_ticket_key renews), so a second would be work unused.
    SSL_CTX_set_num_tickets(ctx, 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, identity.cert_path.c_str()) != 1) fail(identity.cert_path, "cannot load the certificate");
    if (SSL_CTX_use_PrivateKey_file(ctx, identity.key_path.c_str(), SSL_FILETYPE_PEM) != 1) fail(identity.key_path, "cannot load the key");
    if (SSL_CTX_check_private_key(ctx) != 1) fail(identity.key_path, "this key does not match " + identity.cert_path);
    named.names = dns_names(SSL_CTX_get0_certificate(ctx));
    named.key_kind = key_kind(SSL_CTX_get0_privatekey(ctx));
    SSL_CTX_set_tlsext_servername_callback(ctx, on_server_name);
    SSL_CTX_set_tlsext_servername_arg(ctx, this);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, this);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket_key);
    SSL_CTX_set_app_data(ctx, this);
    return ctx;
}

std::unique_ptr<Transport> Context::wrap(int fd) {
    SSL* ssl = SSL_new(identities_[0].ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return nullptr;  // out of memory: the loop closes the connection
    }
    SSL_set_accept_state(ssl);
    return std::make_unique<Session>(ssl);
}

const Context::Named* Context::for_name(const char* server_name) const {
    for (const Named& n : identities_)
        for (const std::string& pattern : n.names)
            if (name_matches(pattern, server_name)) return &n;
    return nullptr;
}

// SNI: the client names the host it wants before the server shows a certificate.
int Context::on_server_name(SSL* ssl, int*, void* self) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_NOACK;  // no SNI (an address, an old client): the default
    const Named* found = static_cast<Context*>(self)->for_name(name);
    if (found) SSL_set_SSL_CTX(ssl, found->ctx);
    return found ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK;  // an unknown name still gets the default
}

int Context::on_alpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                     unsigned int in_length, void*) {
    static const unsigned char ours[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, out_length, ours, sizeof ours, in, in_length) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;  // a client offering only h2: no ALPN, and it falls back or leaves
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

void Context::rotate_ticket_keys() {
    previous_ = current_;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&current_), sizeof current_) != 1)
        throw std::runtime_error("RAND_bytes: " + last_error());
}

// RFC 5077's construction, as OpenSSL expects it: encrypt with AES-256-CBC and authenticate with
// HMAC-SHA256 under the current key; decrypt with whichever key the ticket names.
int Context::on_ticket_key(SSL* ssl, unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                           EVP_MAC_CTX* mac, int encrypt) {
    auto* self = static_cast<Context*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    const TicketKey* key = &self->current_;
    if (encrypt) {
        std::memcpy(name, key->name, sizeof key->name);
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
        if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes, iv) != 1) return -1;
    } else {
        if (std::memcmp(name, self->current_.name, sizeof key->name) != 0) {
            if (std::memcmp(name, self->previous_.name, sizeof key->name) != 0) return 0;  // unknown: a full handshake
            key = &self->previous_;  // the fresh ticket is made under the current key
        }
        if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes, iv) != 1) return -1;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key->hmac), sizeof key->hmac),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
    // 2: good, and send the client a fresh ticket; 1: good, keep it. A TLS 1.3 client uses each
    // ticket once (RFC 8446 §C.4), so a resumed one needs the next; and OpenSSL 3.0 sends none
    // after a resumption unless asked. A TLS 1.2 ticket may be used again, and is renewed only to
    // move it to the current key: a renewal in a resumed 1.2 handshake makes an OpenSSL client
    // (curl, loadgen) drop the ticket it had, and its new-session callback is not called for the
    // new one, so its next connection would pay a full handshake.
    bool single_use = SSL_version(ssl) >= TLS1_3_VERSION;
    return single_use || key == &self->previous_ ? 2 : 1;
}

std::string Context::describe() const {
    std::string text = "TLS 1.2-1.3, AEAD ciphers; ";
    for (size_t i = 0; i < identities_.size(); ++i) {
        const Named& n = identities_[i];
        text += (i ? ", " : "") + (n.names.empty() ? std::string("(no DNS name)") : n.names[0]) + " (" + n.key_kind + ")";
    }
    return text + "; resumption by tickets";
}

std::string Context::describe_files() const {
    if (no_kernel_tls_.empty())
        return "kTLS: on; after each handshake the kernel encrypts, and files go out with SSL_sendfile, page cache to socket";
    return "kTLS: off, " + no_kernel_tls_ + "; files are read into memory and encrypted by OpenSSL (the copy path)";
}

}  // namespace one::tls
