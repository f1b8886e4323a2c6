// loadgen --tls end to end: Workers against a small blocking TLS server in this process. Its key
// and self-signed certificate are made in memory, so the test needs no files. It checks counts
// that depend on the handshakes really happening: who resumed, how many, and what the server saw.
#include "common/loadgen/net.hpp"
#include "common/loadgen/report.hpp"
#include "common/loadgen/tls.hpp"
#include "common/loadgen/worker.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>

using namespace one;
using namespace one::loadgen;

namespace {

// A P-256 key and a self-signed certificate for CN=localhost, valid for a day; and a server
// context that uses them. OpenSSL's defaults otherwise: stateless tickets, two after a full
// handshake and one after a resumption (TLS 1.3).
SSL_CTX* make_server_context(int max_version) {
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

TicketKey& ticket_key() {
    static TicketKey key = [] {
        TicketKey k;
        RAND_bytes(reinterpret_cast<unsigned char*>(&k), sizeof k);
        return k;
    }();
    return key;
}

// Returns 1 for a ticket of ours: "good, and no need to renew it".
int accept_without_renewal(SSL*, unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
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
        sockaddr_in addr = ipv4_address(INADDR_LOOPBACK, 0);
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

Options tls_options(int port, const char* handshake, bool close_each) {
    Options o;
    o.port = port;
    o.connections = 1;
    o.timeout_ms = 2000;
    o.tls = true;
    o.tls_handshake = handshake;
    o.close_each = close_each;
    return o;
}

// A run measured from its start (no warm-up) until `requests` were answered, or `run.stop`.
// The 30 s are only a bound, for a run that goes wrong.
void start_timeline(SharedRun& run, uint64_t requests) {
    run.start_ns = run.window_start_ns = now_ns();
    run.window_end_ns = run.run_end_ns = run.start_ns + static_cast<int64_t>(30e9);
    run.request_limit = requests;
    run.go = true;
}

// `threads` workers sharing one client context, each with options.connections lines; their stats merged.
Stats run_workers(const Options& options, SharedRun& run, int threads = 1) {
    ClientContext tls(options);
    std::vector<std::unique_ptr<Worker>> workers;
    for (int t = 0; t < threads; ++t)
        workers.push_back(std::make_unique<Worker>(options, run, Share{t, threads, options.connections, 0, 0}, &tls));
    std::vector<std::thread> running;
    for (auto& w : workers) running.emplace_back([&w] { w->run(); });
    for (auto& t : running) t.join();
    Stats total;
    for (auto& w : workers) total.merge(w->stats);
    return total;
}

Stats run_for(const Options& options, uint64_t requests) {
    SharedRun run;
    start_timeline(run, requests);
    return run_workers(options, run);
}

std::string summary_of(const Options& options, const Stats& stats) {
    Report report;
    report.options = &options;
    report.stats = &stats;
    report.window_s = 1;
    char* text = nullptr;
    size_t size = 0;
    std::FILE* out = ::open_memstream(&text, &size);
    print_summary(out, report);
    std::fclose(out);
    std::string s(text, size);
    std::free(text);
    return s;
}

}  // namespace

TEST_SUITE("loadgen tls") {
    TEST_CASE("--close, resume: each line's first handshake is full, every later one resumes") {
        TlsServer server({});
        Stats s = run_for(tls_options(server.port, "resume", true), 20);
        CHECK(s.error_total() == 0);
        CHECK(s.requests == 20);
        CHECK(s.completed_total == s.requests);   // every response checked was a good one
        CHECK(server.answered.load() == s.requests);      // and the server answered exactly those
        CHECK(s.latency_us.count() == s.requests);
        CHECK(s.tls.full == 1);
        CHECK(s.tls.resumed == 19);                // one connection, hence one handshake, per request
        CHECK(s.tls.not_resumed == 0);
        CHECK(s.tls.failed == 0);
        CHECK(server.handshakes.load() == 20);
        CHECK(server.resumed.load() == 19);               // the server agrees
        CHECK(s.tls.tickets >= 20);                // two after the full handshake, one after each resumption
        CHECK(s.tls.window_full + s.tls.window_resumed == 20);  // the window began with the run
        CHECK(s.tls.resumed_us.count() == s.tls.window_resumed);
        CHECK(s.tls.unclean_closes == 0);
        CHECK(s.tls.version.rfind("TLSv1.3 ", 0) == 0);
    }

    TEST_CASE("a server that renews no ticket: TLS 1.3 tickets are single use, so every other connection resumes") {
        TlsServer server({.tickets = Tickets::NotRenewed});
        Stats s = run_for(tls_options(server.port, "resume", true), 20);
        CHECK(s.error_total() == 0);
        CHECK(s.requests == 20);
        CHECK(s.tls.full == 10);      // full (two tickets), resumed (none): the used ticket is not offered again
        CHECK(s.tls.resumed == 10);
        CHECK(s.tls.not_resumed == 0);  // nothing offered in vain
        CHECK(server.resumed.load() == 10);
        CHECK(s.tls.tickets == 20);
    }

    TEST_CASE("a server that forgot its ticket keys: every ticket offered is refused, and the run goes on") {
        TlsServer server({.tickets = Tickets::Forgotten});
        Stats s = run_for(tls_options(server.port, "resume", true), 20);
        CHECK(s.error_total() == 0);
        CHECK(s.requests == 20);
        CHECK(s.tls.full == 20);
        CHECK(s.tls.resumed == 0);
        CHECK(s.tls.not_resumed == 19);  // each connection but the first offered its predecessor's ticket
    }

    TEST_CASE("--close, full: every connection's handshake is a full one") {
        TlsServer server({});
        Stats s = run_for(tls_options(server.port, "full", true), 20);
        CHECK(s.error_total() == 0);
        CHECK(s.requests == 20);
        CHECK(server.answered.load() == 20);
        CHECK(s.tls.full == 20);
        CHECK(s.tls.full == s.reconnects);  // every connection closed so far handshook, in full
        CHECK(s.tls.resumed == 0);
        CHECK(s.tls.not_resumed == 0);      // nothing offered, so nothing refused
        CHECK(server.resumed.load() == 0);
        CHECK(s.tls.full_us.count() == 20);
    }

    TEST_CASE("TLS 1.2 resumes too: its session may be offered again, unlike a TLS 1.3 ticket") {
        TlsServer server({});
        Options o = tls_options(server.port, "resume", true);
        o.tls_version = "1.2";
        Stats s = run_for(o, 20);
        CHECK(s.error_total() == 0);
        CHECK(s.requests == 20);
        CHECK(s.tls.full == 1);
        CHECK(s.tls.resumed == 19);
        CHECK(server.resumed.load() == 19);
        CHECK(s.tls.version.rfind("TLSv1.2 ", 0) == 0);
    }

    TEST_CASE("keep-alive: one handshake carries every request") {
        TlsServer server({});
        Stats s = run_for(tls_options(server.port, "resume", false), 50);
        CHECK(s.error_total() == 0);
        CHECK(s.requests == 50);
        CHECK(server.answered.load() >= 50);  // the 51st request left with the 50th answer, before the run stopped
        CHECK(server.answered.load() <= 51);
        CHECK(s.tls.full == 1);
        CHECK(s.tls.resumed == 0);
        CHECK(s.reconnects == 0);
    }

    TEST_CASE("two threads, two lines each, one client context: each line resumes its own tickets") {
        TlsServer server({});
        Options o = tls_options(server.port, "resume", true);
        o.connections = 2;
        SharedRun run;
        start_timeline(run, 40);
        Stats s = run_workers(o, run, 2);
        CHECK(s.error_total() == 0);
        CHECK(s.requests == 40);
        // Each good response had its own connection, and only a line's first handshake is full.
        CHECK(s.tls.full >= 1);
        CHECK(s.tls.full <= 4);
        CHECK(s.tls.resumed >= s.requests - s.tls.full);
        CHECK(s.tls.not_resumed == 0);
        CHECK(server.resumed.load() <= s.tls.resumed);  // a last handshake may be cut off server-side
    }

    TEST_CASE("a body that ends at the close is good only when close_notify ends it") {
        SUBCASE("with close_notify") {
            TlsServer server({.close_delimited = true});
            Stats s = run_for(tls_options(server.port, "resume", false), 5);
            CHECK(s.error_total() == 0);
            CHECK(s.requests == 5);
            CHECK(s.tls.unclean_closes == 0);
        }
        SUBCASE("without: a truncation it cannot tell apart, so never counted good") {
            SharedRun run;
            start_timeline(run, 5);
            TlsServer server({.close_delimited = true, .close_notify = false, .stop_after = 5}, &run);
            Stats s = run_workers(tls_options(server.port, "resume", false), run);
            CHECK(s.requests == 0);
            CHECK(s.completed_total == 0);
            CHECK(s.errors[static_cast<size_t>(ErrorKind::BadFraming)] >= 4);  // the server's 5th waited for the 4th's
            CHECK(s.tls.unclean_closes == s.errors[static_cast<size_t>(ErrorKind::BadFraming)]);
            CHECK(s.error_total() == s.tls.unclean_closes);
        }
    }

    TEST_CASE("a handshake that cannot agree is a tls error, and no request goes out") {
        SharedRun run;
        start_timeline(run, 5);
        TlsServer server({.max_version = TLS1_2_VERSION, .stop_after = 3}, &run);
        Options o = tls_options(server.port, "resume", false);
        o.tls_version = "1.3";  // the server speaks at most 1.2
        Stats s = run_workers(o, run);
        CHECK(s.requests == 0);
        CHECK(server.answered.load() == 0);
        CHECK(s.tls.failed >= 2);
        CHECK(s.errors[static_cast<size_t>(ErrorKind::Tls)] == s.tls.failed);
        CHECK(s.error_total() == s.tls.failed);
        CHECK(s.tls.full + s.tls.resumed == 0);
    }

    TEST_CASE("the report: a tls line and a \"tls\" object only with --tls") {
        Options plain;
        Stats stats;
        stats.requests = 10;
        CHECK(summary_of(plain, stats).find("tls:") == std::string::npos);
        Report report;
        report.options = &plain;
        report.stats = &stats;
        CHECK(to_json(report).find(",\"tls\":null,") != std::string::npos);

        Options o = tls_options(8001, "resume", true);
        stats.tls.window_full = 1;
        stats.tls.window_resumed = 9;
        stats.tls.full = 2;
        stats.tls.resumed = 12;
        stats.tls.not_resumed = 1;
        stats.tls.tickets = 15;
        stats.tls.version = "TLSv1.3 TLS_AES_256_GCM_SHA384";
        std::string summary = summary_of(o, stats);
        CHECK(summary.find("tls:         TLSv1.3 TLS_AES_256_GCM_SHA384, resume; window: 1 full, 9 resumed, 1.00 per request\n") !=
              std::string::npos);
        CHECK(summary.find("whole run: 2 full, 12 resumed, 1 tickets refused, 0 failed, 15 tickets received, "
                           "0 ended without close_notify\n") != std::string::npos);
        report.options = &o;
        std::string json = to_json(report);
        CHECK(json.find(",\"tls\":{\"handshake\":\"resume\",\"version\":\"TLSv1.3 TLS_AES_256_GCM_SHA384\",\"sni\":\"\","
                        "\"window\":{\"full\":1,\"resumed\":9,\"per_request\":1.000,") != std::string::npos);
        CHECK(json.find("\"run\":{\"full\":2,\"resumed\":12,\"not_resumed\":1,\"failed\":0,\"tickets\":15,"
                        "\"unclean_closes\":0}},\"mix\":null}") != std::string::npos);
        CHECK(kErrorNames[static_cast<size_t>(ErrorKind::Tls)] == "tls");
        CHECK(classify_errno(EPROTO) == ErrorKind::Tls);
    }
}
