// Chapter 01: blocking. One thread accepts a client and serves it until the client leaves;
// only then does it accept the next. accept(), recv() and send() each put the thread to sleep
// until the kernel has something for it, and while it sleeps on one client, every other client
// waits in the kernel's accept queue. With keep-alive, "until the client leaves" can be forever.
#include "common/blocking_session.hpp"

using namespace one;

int main(int argc, char** argv) {
    CLI::App cli{"01-blocking: one thread, one client at a time"};
    ServerOptions options;
    add_server_options(cli, options, 8001);
    CLI11_PARSE(cli, argc, argv);

    return run_server([&] {
        Fd listener = listen_tcp(options.host, options.port);
        announce_listening(listener.get());
        App app("01-blocking", "One thread, blocking accept: a client is served until it leaves, and the next one waits.");
        BurstLog out_of_fds("accept: out of file descriptors, pausing");

        for (;;) {
            int err = 0;
            Fd client = accept_client(listener.get(), err);  // sleeps until a client has connected
            if (!client) {
                after_accept_error(err, out_of_fds);
                continue;
            }
            out_of_fds.success();
            serve_blocking(std::move(client), app, options);  // sleeps on this client's reads and writes
        }
    });
}
