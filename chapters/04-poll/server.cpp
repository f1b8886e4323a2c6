// Chapter 04: poll. Chapter 03's loop with select() replaced by poll(): see poller.hpp.
#include "common/event_server.hpp"
#include "poller.hpp"

using namespace one;

int main(int argc, char** argv) {
    CLI::App cli{"04-poll: one thread, non-blocking sockets, poll()"};
    ServerOptions options;
    EventOptions events;
    add_server_options(cli, options, 8004);
    add_event_options(cli, events);
    CLI11_PARSE(cli, argc, argv);

    return run_server([&] {
        Fd listener = listen_tcp(options.host, options.port);
        App app("04-poll", "One thread, non-blocking sockets, and poll(): no descriptor limit, but every wait scans them all.");
        PollPoller poller;
        EventServer server(std::move(listener), poller, app, options, events);
        announce_listening(server.listen_fd());  // only now: scripts may count our descriptors from here on
        server.run();
    });
}
