// Chapter 05: epoll. Chapter 04's loop with poll() replaced by epoll: see poller.hpp.
#include "common/event_server.hpp"
#include "poller.hpp"

using namespace one;

int main(int argc, char** argv) {
    CLI::App cli{"05-epoll: one thread, non-blocking sockets, epoll"};
    ServerOptions options;
    EventOptions events;
    bool edge = false;
    add_server_options(cli, options, 8005);
    add_event_options(cli, events);
    cli.add_flag("--edge", edge, "edge-triggered: be told of changes only, and read/write/accept until EAGAIN");
    CLI11_PARSE(cli, argc, argv);

    return run_server([&] {
        Fd listener = listen_tcp(options.host, options.port);
        App app("05-epoll", "One thread, non-blocking sockets, and epoll: the kernel keeps the watch list and hands back only what is ready.");
        EpollPoller poller(edge);
        EventServer server(std::move(listener), poller, app, options, events);
        announce_listening(server.listen_fd());  // only now: scripts may count our descriptors from here on
        server.run();
    });
}
