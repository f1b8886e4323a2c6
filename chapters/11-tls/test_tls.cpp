// Chapter 11's own tests: what the TLS front door accepts. TLS 1.3, and 1.2 with AEAD ciphers;
// nothing older and nothing weaker, refused with the alert that says why. ALPN http/1.1. SNI picks
// the certificate, a wildcard covering one label. A bad certificate or key stops it before it listens.
// --plain-port adds plain HTTP beside it, and each port refuses the other's protocol.
// Run with --tls-dir (scripts/test.sh makes the certificates).
#include "front_door_spec.hpp"
#include "common/blackbox/harness.hpp"

#include <doctest/doctest.h>

#include <openssl/ssl.h>

using namespace one::test;

namespace {

// The default identity (ECDSA, from the harness) and the RSA one, which SNI must ask for.
ServerSpec two_identities(const FakeBackend& backend) {
    return front_door(backend, {"--tls-cert", tls_file("rsa.pem"), "--tls-key", tls_file("rsa.key")});
}

bool answers(Client& client) {
    return client.send(get("/hello")) && client.read_reply().body == "hello";
}

}  // namespace

TEST_SUITE("11 tls: what is accepted") {

TEST_CASE("TLS 1.3, and TLS 1.2 with an AEAD cipher, are spoken, with ALPN http/1.1") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend));
    Client v13(server.port(), {.min_version = TLS1_3_VERSION});
    REQUIRE(v13.connected());
    TlsInfo info = v13.tls_info();
    CHECK(info.version == "TLSv1.3");
    CHECK(info.alpn == "http/1.1");
    CHECK(answers(v13));

    Client v12(server.port(), {.max_version = TLS1_2_VERSION});
    REQUIRE(v12.connected());
    info = v12.tls_info();
    CAPTURE(info.cipher);
    CHECK(info.version == "TLSv1.2");
    CHECK((info.cipher.find("GCM") != std::string::npos || info.cipher.find("CHACHA20") != std::string::npos));
    CHECK(info.cipher.rfind("ECDHE-", 0) == 0);  // forward secret
    CHECK(info.alpn == "http/1.1");
    CHECK(answers(v12));
}

TEST_CASE("a client offering only h2 still connects, with no protocol chosen") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend));
    Client h2(server.port(), {.alpn = {"h2"}});
    REQUIRE(h2.connected());
    CHECK(h2.tls_info().alpn == "");
    CHECK(answers(h2));  // it may speak HTTP/1.1 anyway, as ALPN-less clients do
}

TEST_CASE("TLS 1.0 and 1.1 are refused with alert 70, and the next client is served") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend));
    for (int version : {TLS1_VERSION, TLS1_1_VERSION}) {
        CAPTURE(version);
        // Security level 0, so that our client could finish such a handshake if the server let it:
        // the refusal must then be the server's (the alert's reason says so), not our own.
        Client old(server.port(), {.handshake = false, .min_version = version, .max_version = version,
                                   .cipher_list = "DEFAULT:@SECLEVEL=0", .security_level = 0});
        REQUIRE(old.connected());
        CHECK_FALSE(old.handshake());
        TlsFailure why = old.tls_failure();
        CAPTURE(why.text);
        CHECK(why.reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION);
    }
    Client next(server.port());
    CHECK(answers(next));
}

TEST_CASE("TLS 1.2 with only CBC ciphers is refused with handshake_failure") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(front_door(backend));
    Client cbc(server.port(), {.handshake = false, .max_version = TLS1_2_VERSION,
                               .cipher_list = "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384"});
    REQUIRE(cbc.connected());
    CHECK_FALSE(cbc.handshake());
    TlsFailure why = cbc.tls_failure();
    CAPTURE(why.text);
    CHECK(why.reason == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE);
    Client next(server.port());
    CHECK(answers(next));
}

TEST_CASE("SNI picks the certificate; no name or an unknown one gets the first") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(two_identities(backend));
    struct Case {
        std::string sni, key_kind;
    };
    // Which certificate came back is the question here, not whether it names the host: verify=false.
    for (const Case& c : std::vector<Case>{{"", "ECDSA P-256"},
                                           {"rsa.test", "RSA 2048"},
                                           {"RSA.TEST", "RSA 2048"},  // names are not case-sensitive
                                           {"localhost", "ECDSA P-256"},
                                           {"ecdsa.test", "ECDSA P-256"},
                                           {"nobody.test", "ECDSA P-256"},
                                           {"a.wild.test", "RSA 2048"}}) {
        CAPTURE(c.sni);
        Client client(server.port(), {.sni = c.sni, .verify = false});
        REQUIRE(client.connected());
        CHECK(client.tls_info().key_kind == c.key_kind);
        CHECK(answers(client));
    }
}

TEST_CASE("a wildcard covers one label: *.wild.test is not a.b.wild.test's certificate") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(two_identities(backend));
    for (std::string name : {"a.b.wild.test", "wild.test", "x.wild.test.evil"}) {
        CAPTURE(name);
        Client client(server.port(), {.sni = name, .verify = false});
        REQUIRE(client.connected());
        CHECK(client.tls_info().key_kind == "ECDSA P-256");  // RFC 6125 6.4.3: the default, not *.wild.test's
    }
}

TEST_CASE("the chain verifies against the test CA, for the addresses and names the certificate carries") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerProcess server(two_identities(backend));
    Client by_address(server.port());  // checks 127.0.0.1 (or --host) against the certificate
    REQUIRE(by_address.connected());
    CHECK(by_address.tls_info().verify_result == X509_V_OK);
    Client by_name(server.port(), {.sni = "localhost", .verify_name = "localhost"});
    REQUIRE(by_name.connected());
    CHECK(answers(by_name));
    Client rsa(server.port(), {.sni = "rsa.test", .verify_name = "rsa.test"});
    REQUIRE(rsa.connected());
    CHECK(rsa.tls_info().dns_names == std::vector<std::string>{"rsa.test", "*.wild.test", "localhost"});
    // And verification is real: a name the certificate does not carry fails.
    Client wrong(server.port(), {.verify_name = "nobody.test"});
    CHECK_FALSE(wrong.connected());
    CHECK(wrong.tls_failure().text.find("hostname mismatch") != std::string::npos);
}

TEST_CASE("over IPv6 the certificate verifies for ::1") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerSpec v6 = front_door(backend);
    v6.host = "::1";
    std::unique_ptr<ServerProcess> server;
    try {
        server = std::make_unique<ServerProcess>(v6);
    } catch (const std::exception&) {
        MESSAGE("skipped: this machine cannot listen on ::1");
        return;
    }
    Client client(server->port(), 5000, "::1");
    REQUIRE(client.connected());
    CHECK(answers(client));
}

TEST_CASE("--plain-port: plain HTTP beside TLS, in the same workers; each port refuses the other's protocol") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerSpec spec = front_door(backend, {"--header-timeout", "30000"});
    spec.plain_port = true;
    ServerProcess server(spec);
    REQUIRE(server.plain_port() > 0);
    CHECK(server.plain_port() != server.port());
    Client encrypted(server.port());
    CHECK(answers(encrypted));
    Client plain(server.plain_port(), {.on = false});
    CHECK(answers(plain));
    CHECK(answers(plain));  // keep-alive, as on any plain port
    // https:// to the plain port: the ClientHello is no request line. 400 in clear text, read from
    // the first bytes, not a 408 after the 30 s header timeout.
    Client hello(server.plain_port(), {.on = false});
    REQUIRE(hello.send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)));
    CHECK(hello.read_reply().status == 400);
    // http:// to the TLS port: closed, with no HTTP in clear text (test_handshake.cpp has the rest)
    Client plain_to_tls(server.port(), {.on = false});
    REQUIRE(plain_to_tls.send(get("/hello")));
    std::string got;
    CHECK(plain_to_tls.read_to_close(got));
    CHECK(got.find("HTTP/1.1") == std::string::npos);
    CHECK(answers(plain));  // and the plain client from before is still served
}

TEST_CASE("--plain-port: one --max-connections for both ports; beyond it a plain client reads its 503, a TLS one gets the close") {
    FakeBackend backend([](const Seen&) { return ok("hello"); });
    ServerSpec spec = front_door(backend, {"--max-connections", "2"});
    spec.plain_port = true;
    ServerProcess server(spec);
    Client encrypted(server.port());
    REQUIRE(answers(encrypted));
    Client plain(server.plain_port(), {.on = false});
    REQUIRE(answers(plain));
    Client extra_plain(server.plain_port(), {.on = false});
    REQUIRE(extra_plain.send(get("/hello")));
    CHECK(extra_plain.read_reply().status == 503);
    Client extra_tls(server.port());
    CHECK_FALSE(extra_tls.connected());  // no handshake: a 503 in clear text would be garbage to it
    CHECK(answers(encrypted));
    CHECK(answers(plain));
}

TEST_CASE("--plain-port cannot be --port") {
    std::string output;
    CHECK(run_binary("--port 8111 --plain-port 8111 --upstream 127.0.0.1:9", output) == 2);
    CAPTURE(output);
    CHECK(output.find("--plain-port 8111 is --port already") != std::string::npos);
    CHECK(output.find("listening") == std::string::npos);
}

TEST_CASE("a key that does not match its certificate stops the server before it listens, naming the file") {
    std::string output;
    std::string args = "--port 0 --upstream 127.0.0.1:9 --tls-cert " + tls_file("ecdsa.pem") + " --tls-key " + tls_file("rsa.key");
    CHECK(run_binary(args, output, /*tls_identity=*/false) == 1);
    CAPTURE(output);
    CHECK(output.find(tls_file("rsa.key")) != std::string::npos);
    CHECK(output.find("listening") == std::string::npos);
}

TEST_CASE("a missing certificate or key, or one without the other, is refused with its name") {
    std::string output;
    std::string missing = tls_file("no-such.pem");
    CHECK(run_binary("--port 0 --upstream 127.0.0.1:9 --tls-cert " + missing + " --tls-key " + tls_file("ecdsa.key"), output, false) != 0);
    CHECK(output.find("no-such.pem") != std::string::npos);
    CHECK(output.find("listening") == std::string::npos);
    output.clear();
    CHECK(run_binary("--port 0 --upstream 127.0.0.1:9 --tls-cert " + tls_file("ecdsa.pem"), output, false) != 0);
    CHECK(output.find("--tls-key") != std::string::npos);
    CHECK(output.find("listening") == std::string::npos);
    output.clear();
    CHECK(run_binary("--port 0 --upstream 127.0.0.1:9 --tls-cert " + tls_file("ca.key") + " --tls-key " + tls_file("ca.key"), output, false) == 1);
    CHECK(output.find("ca.key") != std::string::npos);  // a key where the certificate should be
    CHECK(output.find("listening") == std::string::npos);
}

}  // TEST_SUITE
