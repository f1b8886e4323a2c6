// tls_test_server: a small blocking TLS server for tests, in the test's own process. Its P-256 key
// and self-signed certificate are made with the OpenSSL API, so no test needs files. It serves one
// connection at a time and counts what it saw, so tests can compare with what a client counted.
#pragma once

#include "common/loadgen/net.hpp"
#include "common/loadgen/worker.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <atomic>
#include <cstring>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>

namespace one::test_tls {

using loadgen::SharedRun;

// A P-256 key and a self-signed certificate for CN=localhost, valid for a day; and a server
// context that uses them. OpenSSL's defaults otherwise: stateless tickets, two after a full
// handshake and one after a resumption (TLS 1.3).
inline SSL_CTX* make_server_context(int max_version) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    REQUIRE((key && cert));
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    REQUIRE(ctx);
    SSL_CTX_set_max_proto_version(ctx, max_version);
    REQUIRE(SSL_CTX_use_certificate(ctx, cert) == 1);  // both take their own references
    REQUIRE(SSL_CTX_use_PrivateKey(ctx, key) == 1);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ctx;
}

// How the server treats the tickets it issued.
enum class Tickets {
    Renewed,     // OpenSSL's own keys: after a TLS 1.3 resumption, a fresh ticket
    NotRenewed,  // a key callback that accepts its tickets without renewing them: none after a resumption
    Forgotten,   // new keys before each connection, as after a restart: no ticket is ever accepted
};

// NotRenewed's one key, RFC 5077's layout: AES-256-CBC for the ticket, HMAC-SHA256 over it.
struct TicketKey {
    unsigned char name[16], aes[32], hmac[32];
};

inline TicketKey& ticket_key() {
    static TicketKey key = [] {
        TicketKey k;
        RAND_bytes(reinterpret_cast<unsigned char*>(&k), sizeof k);
        return k;
    }();
    return key;
}

// Returns 1 for a ticket of ours: "good, and no need to renew it".
inline int accept_without_renewal(SSL*, unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                           int encrypt) {
    TicketKey& key = ticket_key();
    if (encrypt) {
        std::memcpy(name, key.name, sizeof key.name);
        RAND_bytes(iv, 16);
        EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes, iv);
    } else {
        if (std::memcmp(name, key.name, sizeof key.name) != 0) return 0;
        EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes, iv);
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac, sizeof key.hmac),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC_CTX_set_params(mac, params);
    return 1;
}

struct ServerSettings {
    Tickets tickets = Tickets::Renewed;
    bool close_delimited = false;  // answer with a body that ends at the close, then close
    bool close_notify = true;      // end each stream with close_notify (false: just close the socket)
    int max_version = 0;           // 0: TLS 1.3
    int stop_after = 0;            // > 0: stop the run once this many connections were served
};

// Serves one connection at a time, each until the client closes it or asked to close
// ("Connection: close"). Requests are GETs without a body.
class TlsServer {
public:
    explicit TlsServer(ServerSettings settings, SharedRun* run = nullptr)
        : settings_(settings), run_(run), ctx_(make_server_context(settings.max_version)),
          listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        if (settings.tickets == Tickets::NotRenewed) SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx_, accept_without_renewal);
        ignore_sigpipe();  // OpenSSL writes with write(): a client gone must not kill the tests
        sockaddr_in addr = loadgen::ipv4_address(INADDR_LOOPBACK, 0);
        socklen_t len = sizeof addr;
        REQUIRE(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0);
        REQUIRE(::listen(listener_.get(), 16) == 0);
        ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
        port = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~TlsServer() {
        stop_ = true;
        thread_.join();
        SSL_CTX_free(ctx_);
    }

    int port = 0;
    std::atomic<uint64_t> answered{0};     // responses written whole
    std::atomic<uint64_t> handshakes{0};   // handshakes finished, server side
    std::atomic<uint64_t> resumed{0};      // of which resumed a session

private:
    void serve() {
        int served = 0;
        while (!stop_) {
            pollfd p{listener_.get(), POLLIN, 0};
            if (::poll(&p, 1, 20) != 1) continue;  // wakes every 20 ms to see whether the test is done
            Fd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!client) continue;
            timeval tv{5, 0};  // a test that goes wrong must not hang
            ::setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ::setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            serve_one(client.get());
            if (++served == settings_.stop_after && run_) run_->stop = true;
        }
    }

    void serve_one(int fd) {
        if (settings_.tickets == Tickets::Forgotten) {  // no SSL of this context is alive now
            unsigned char keys[80];  // name, HMAC key, AES key
            RAND_bytes(keys, sizeof keys);
            SSL_CTX_set_tlsext_ticket_keys(ctx_, keys, sizeof keys);
        }
        SSL* ssl = SSL_new(ctx_);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) == 1) {
            ++handshakes;
            if (SSL_session_reused(ssl)) ++resumed;
            bool clean = answer_all(ssl);
            if (clean && settings_.close_notify) SSL_shutdown(ssl);  // one close_notify, no wait for the answer
        }
        SSL_free(ssl);
    }

    // Answers requests until the client leaves or asks to close. True when the server ends the stream.
    bool answer_all(SSL* ssl) {
        std::string in;
        char buf[4096];
        for (;;) {
            size_t head_end;
            while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
                size_t n = 0;
                if (SSL_read_ex(ssl, buf, sizeof buf, &n) != 1) return false;  // the client went (or the test ended)
                in.append(buf, n);
            }
            bool close = settings_.close_delimited || in.substr(0, head_end).find("Connection: close") != std::string::npos;
            in.erase(0, head_end + 4);
            std::string out = settings_.close_delimited ? "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello"
                              : close ? "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
                                      : "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
            ++answered;  // before the write: once the client has the answer, the count includes it
            size_t n = 0;
            if (SSL_write_ex(ssl, out.data(), out.size(), &n) != 1) return false;
            if (close) return true;
        }
    }

    ServerSettings settings_;
    SharedRun* run_;
    SSL_CTX* ctx_;
    Fd listener_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};


}  // namespace one::test_tls
