#include "server_options.hpp"

#include "narrate.hpp"
#include "sys.hpp"

#include <cstdio>
#include <exception>

namespace one {

void add_server_options(CLI::App& cli, ServerOptions& o, int default_port) {
    o.port = default_port;
    cli.add_option("--host", o.host, "address to listen on: IPv4, or IPv6 (::1; :: takes IPv4 clients too)")->capture_default_str();
    cli.add_option("--port", o.port, "TCP port; 0 lets the kernel pick a free one")
        ->capture_default_str()
        ->check(CLI::Range(0, 65535));
    cli.add_option("--idle-timeout", o.idle_timeout_ms, "close a connection silent for this many ms")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600 * 1000));
    cli.add_option("--max-body", o.max_body, "largest request body in bytes; larger gets 413")
        ->capture_default_str()
        ->check(CLI::Range(size_t{0}, size_t{1} << 30));
    cli.add_flag("--narrate", narrate::on, "say what the server does, one line per event, on stderr (for one or two clients)");
}

void announce_listening(int listen_fd, const char* words) {
    std::printf("%s %s\n", words, local_address(listen_fd).c_str());
    std::fflush(stdout);
}

int run_server(const std::function<void()>& body) {
    try {
        ignore_sigpipe();
        raise_fd_limit();  // a shell's soft limit is often 1024; the hard one is what the machine allows
        body();
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

}  // namespace one
