// Chapter 11: tls. The front door encrypts. (WIP: not yet built.)
//
// Chapter 09's proxy, unchanged, with a TLS session between every client and the loop. OpenSSL
// drives the non-blocking socket; the loop learns one thing, that a read may wait for writable
// and a write for readable (common/transport.hpp). The handshake runs inside the same loop as
// everything else, on the header deadline: a client that stalls halfway costs a timer, not a
// thread. The backends still speak plain HTTP behind the front door, as they do behind nginx.
#include "chapters/09-proxy/front_door.hpp"
#include "tls_context.hpp"

#include <cstdio>
#include <memory>

using namespace one;

int main(int argc, char** argv) {
    CLI::App cli{"11-tls: chapter 09's front door, encrypting: TLS 1.2 and 1.3 inside the event loop"};
    proxy::FrontDoorOptions options;
    proxy::add_front_door_options(cli, options, 8011);
    std::vector<std::string> certs, keys;
    cli.add_option("--tls-cert", certs, "a certificate and its chain, PEM (repeat for more names: SNI picks one; the first is the default)")
        ->required()
        ->check(CLI::ExistingFile);
    cli.add_option("--tls-key", keys, "its private key, PEM (one per --tls-cert, in the same order)")->required()->check(CLI::ExistingFile);
    CLI11_PARSE(cli, argc, argv);
    if (certs.size() != keys.size()) {
        std::fprintf(stderr, "--tls-cert and --tls-key come in pairs: %zu certificates, %zu keys\n", certs.size(), keys.size());
        return 2;
    }
    std::vector<tls::Identity> identities;
    for (size_t i = 0; i < certs.size(); ++i) identities.push_back({certs[i], keys[i]});

    return run_server([&] {
        auto context = std::make_unique<tls::Context>(identities);  // a bad certificate or key: exit 1, before listening
        log_line(context->describe());
        proxy::serve_front_door(
            options, "11-tls", "A front door that encrypts: TLS in the event loop, plain HTTP to the backends.",
            [&](Master& master) {
                // SIGHUP: the new workers start from the certificates as they are on disk now, and
                // from a new ticket key; tickets issued under the one before still resume.
                master.before_reload([&] {
                    try {
                        auto fresh = std::make_unique<tls::Context>(identities);
                        fresh->follow(*context);
                        context = std::move(fresh);
                        log_line("reload: " + context->describe());
                    } catch (const std::exception& e) {
                        context->rotate_ticket_keys();
                        log_line(std::string("reload: keeping the certificates already loaded: ") + e.what());
                    }
                });
            },
            [&](EventServer& server) { server.secure_with(*context); });
    });
}
