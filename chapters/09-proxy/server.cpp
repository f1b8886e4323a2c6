// Chapter 09: proxy. The front door: a server that answers nothing itself. Every request goes on to
// one of several backends (--upstream, or --route by path), over connections the proxy keeps
// open and reuses, and the backend's response comes back the same way. Each connection of the
// proxy is a server's connection on one side and a client's on the other (proxy.hpp).
//
// Built from what the course already has: 06's master and SO_REUSEPORT workers, the epoll loop,
// the parser, and 08's door, through which a loop hands a request away and gets its answer back
// later, in order. Only the far side of the door is new. Its options and start-up are in
// front_door.hpp, which chapter 11 shares.
#include "front_door.hpp"

using namespace one;

int main(int argc, char** argv) {
    CLI::App cli{"09-proxy: a reverse proxy and load balancer in front of several backends"};
    proxy::FrontDoorOptions options;
    proxy::add_front_door_options(cli, options, 8009);
    CLI11_PARSE(cli, argc, argv);
    return run_server([&] { proxy::serve_front_door(options, "09-proxy", "A reverse proxy: every request goes on to a backend."); });
}
