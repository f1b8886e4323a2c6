// Chapter 11: tls. The front door encrypts.
//
// Chapter 09's proxy, unchanged, with a TLS session between every client and the loop. OpenSSL
// drives the non-blocking socket; the loop learns one thing, that a read may wait for writable
// and a write for readable (common/transport.hpp). The handshake runs inside the same loop as
// everything else, on the header deadline: a client that stalls halfway costs a timer, not a
// thread. The backends still speak plain HTTP behind the front door, as they do behind nginx.
//
// With --root instead of --upstream it is chapter 07's file server with the same TLS in front, to
// show what encryption does to sendfile: the file's bytes must pass through memory to be
// encrypted, unless the kernel encrypts them itself (kTLS), which tls_context.cpp asks for.
//
// --plain-port adds a plain HTTP listener to the same workers, to compare the two in one process.
#include "chapters/07-sendfile/file_server.hpp"
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
    std::string root;
    auto* root_option = cli.add_option("--root", root, "no proxy: serve the files under this directory, as chapter 07 does, over TLS")
        ->excludes(cli.get_option("--upstream"));
    bool no_ktls = false;
    cli.add_flag("--no-ktls", no_ktls, "never let the kernel encrypt (kTLS): files always take the copy path");
    int plain_port = -1;
    cli.add_option("--plain-port", plain_port, "also serve plain HTTP, without TLS, on this port (0: any free one), to compare")
        ->check(CLI::Range(0, 65535));
    CLI11_PARSE(cli, argc, argv);
    if (certs.size() != keys.size()) {
        std::fprintf(stderr, "--tls-cert and --tls-key come in pairs: %zu certificates, %zu keys\n", certs.size(), keys.size());
        return 2;
    }
    if (plain_port > 0 && plain_port == options.server.port) {
        std::fprintf(stderr, "--plain-port %d is --port already: plain HTTP needs a port of its own\n", plain_port);
        return 2;
    }
    std::vector<tls::Identity> identities;
    for (size_t i = 0; i < certs.size(); ++i) identities.push_back({certs[i], keys[i]});

    return run_server([&] {
        auto context = std::make_unique<tls::Context>(identities, !no_ktls);  // a bad certificate or key: exit 1, before listening
        // --plain-port: a second set of listeners, one per worker as for TLS, whose clients the
        // same loops serve without a session. The master holds them, so a reload drops no one.
        std::vector<Fd> plain;
        if (plain_port >= 0) {
            ServerOptions at_plain = options.server;
            at_plain.port = plain_port;
            plain = open_listeners(at_plain, options.workers);
        }
        // In the master, once it listens: what TLS it offers, and (in the new workers after a
        // SIGHUP) the certificates as they are on disk then, and a new ticket key; tickets issued
        // under the one before still resume.
        auto in_master = [&](Master& master) {
            if (!plain.empty()) announce_listening(plain[0].get(), "plain HTTP on");  // after "listening on", the TLS port
            log_line(context->describe());
            master.before_reload([&] {
                try {
                    auto fresh = std::make_unique<tls::Context>(identities, !no_ktls);
                    fresh->follow(*context);
                    context = std::move(fresh);
                    log_line("reload: " + context->describe());
                } catch (const std::exception& e) {
                    context->rotate_ticket_keys();
                    log_line(std::string("reload: keeping the certificates already loaded: ") + e.what());
                }
            });
        };
        auto encrypt = [&](int slot, EventServer& server) {
            context->warm_up();  // in the worker, before its first client: see tls_context.cpp
            server.secure_with(*context);
            if (!plain.empty()) server.also_accept_plain(keep_own_listener(plain, slot));
        };
        if (*root_option)
            serve_files(options.server, options.events, options.workers, FileServing{.root = root, .copy = false, .sent_with = context->describe_files()},
                        "11-tls", "Chapter 07's files, encrypted: TLS in the event loop, and kTLS where the kernel has it.",
                        in_master, encrypt);
        else
            proxy::serve_front_door(options, "11-tls", "A front door that encrypts: TLS in the event loop, plain HTTP to the backends.",
                                    in_master, encrypt);
    });
}
