// tls_context: what every TLS session of the server shares.
//
//   certificates  one per name the server answers to (SNI picks one; the first is the default)
//   protocol      TLS 1.2 and 1.3 only, AEAD ciphers only, no renegotiation, ALPN "http/1.1"
//   tickets       resumption keys the master makes before it forks, so that a ticket one worker
//                 issued resumes on another (SO_REUSEPORT sends the next connection anywhere);
//                 SIGHUP makes a new key and keeps the previous one to read tickets already out
//
// Built in the master, before anything listens: a missing, unreadable or mismatched certificate
// or key is a start-up error with the file's name, not a failure at the first handshake.
#pragma once

#include "common/transport.hpp"

#include <openssl/ssl.h>

#include <string>
#include <vector>

namespace one::tls {

struct Identity {
    std::string cert_path;  // PEM: the certificate, then its chain
    std::string key_path;   // PEM: its private key
};

class Context final : public TransportMaker {
public:
    // Throws std::runtime_error naming the file and what is wrong with it. `kernel_tls`: hand the
    // keys to the kernel after each handshake where it can encrypt (kTLS); false: never (--no-ktls).
    Context(const std::vector<Identity>& identities, bool kernel_tls);
    ~Context() override;
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    std::unique_ptr<Transport> wrap(int fd) override;
    // One handshake with itself per certificate, in memory: a worker calls it before its first client.
    void warm_up();
    // A new key for the tickets issued from now on; the one before still reads old tickets.
    void rotate_ticket_keys();
    // Takes over `before`'s current ticket key as this one's previous (a reload's new context).
    void follow(const Context& before) { previous_ = before.current_; }
    // One line for the log: "TLS 1.2-1.3; a.test (ECDSA P-256), b.test (RSA 2048); tickets".
    std::string describe() const;
    // One line for the log: whether files go out encrypted by the kernel (kTLS), and if not, why.
    std::string describe_files() const;

private:
    struct Named {
        SSL_CTX* ctx = nullptr;
        std::vector<std::string> names;  // the certificate's DNS names ("*.a.test" included)
        std::string key_kind;            // "ECDSA P-256", "RSA 2048"
    };
    struct TicketKey {
        unsigned char name[16];
        unsigned char aes[32];
        unsigned char hmac[32];
    };

    SSL_CTX* make_ctx(const Identity& identity, Named& named);
    const Named* for_name(const char* server_name) const;
    static int on_server_name(SSL* ssl, int* alert, void* self);
    static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                       unsigned int in_length, void* self);
    static int on_ticket_key(SSL* ssl, unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                             EVP_MAC_CTX* mac, int encrypt);

    std::vector<Named> identities_;  // [0] is the default
    std::string no_kernel_tls_;      // why the kernel will not encrypt; empty: it will (kTLS)
    TicketKey current_{}, previous_{};
};

}  // namespace one::tls
