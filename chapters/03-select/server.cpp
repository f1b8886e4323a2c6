// Chapter 03: select. One thread, non-blocking sockets, and an event loop that asks the kernel
// which sockets are ready. The loop is common/event_server.cpp, the request cycle
// common/connection.cpp; what select() changes is all in poller.hpp beside this file.
#include "common/event_server.hpp"
#include "poller.hpp"

using namespace one;

int main(int argc, char** argv) {
    CLI::App cli{"03-select: one thread, non-blocking sockets, select()"};
    ServerOptions options;
    EventOptions events;
    add_server_options(cli, options, 8003);
    add_event_options(cli, events);
    CLI11_PARSE(cli, argc, argv);

    return run_server([&] {
        Fd listener = listen_tcp(options.host, options.port);
        App app("03-select", "One thread, non-blocking sockets, and select() to learn which are ready.");
        SelectPoller poller;
        EventServer server(std::move(listener), poller, app, options, events);
        announce_listening(server.listen_fd());  // only now: scripts may count our descriptors from here on
        server.run();
    });
}
