// EventServer's guard against stale events, provoked with a poller that adds one to a real batch.
#include "common/event_server.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace one;

namespace {

// A poll()-based poller that can slip extra events into the next batch, after the real ones.
class ScriptedPoller final : public Poller {
public:
    const char* name() const override { return "scripted"; }
    std::vector<Fired> inject;

    bool watch(int fd, uint32_t generation, Interest interest) override {
        forget(fd);
        watched_.push_back({fd, generation, interest});
        return true;
    }
    void forget(int fd) override {
        std::erase_if(watched_, [fd](const Watch& w) { return w.fd == fd; });
    }
    void wait(std::vector<Fired>& fired, int timeout_ms) override {
        std::vector<pollfd> fds;
        for (const Watch& w : watched_)
            fds.push_back({w.fd, static_cast<short>((w.interest.read ? POLLIN : 0) | (w.interest.write ? POLLOUT : 0)), 0});
        ::poll(fds.data(), fds.size(), timeout_ms);
        for (size_t i = 0; i < fds.size(); ++i)
            if (fds[i].revents)
                fired.push_back({fds[i].fd, watched_[i].generation, (fds[i].revents & POLLIN) != 0,
                                 (fds[i].revents & POLLOUT) != 0, (fds[i].revents & (POLLERR | POLLHUP)) != 0});
        fired.insert(fired.end(), inject.begin(), inject.end());
        inject.clear();
    }

private:
    struct Watch {
        int fd;
        uint32_t generation;
        Interest interest;
    };
    std::vector<Watch> watched_;
};

Fd connect_to(int port) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);  // EINPROGRESS; the backlog takes it
    return fd;
}

// Turns the loop until the client has `count` complete "Hello, World!" bodies, or 50 turns pass.
int serve_until_answered(EventServer& server, int client_fd, int count) {
    std::string got;
    for (int turn = 0; turn < 50; ++turn) {
        server.run_once(20);
        char chunk[4096];
        ssize_t n = ::recv(client_fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n > 0) got.append(chunk, static_cast<size_t>(n));
        int answers = 0;
        for (size_t at = got.find("Hello, World!"); at != std::string::npos; at = got.find("Hello, World!", at + 1)) ++answers;
        if (answers >= count) return answers;
    }
    return -1;
}

}  // namespace

TEST_SUITE("event_server") {

TEST_CASE("an event for a closed connection is not delivered to the new one on the same fd") {
    Fd listener = listen_tcp("127.0.0.1", 0);
    int port = local_port(listener.get());
    ScriptedPoller poller;
    App app("test", "test");
    EventServer server(std::move(listener), poller, app, ServerOptions{}, EventOptions{});

    std::string hello = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
    Fd first = connect_to(port);
    REQUIRE(write_all(first.get(), hello).ok());
    REQUIRE(serve_until_answered(server, first.get(), 1) == 1);
    CHECK(server.connections() == 1);
    first.reset();                   // the client leaves...
    for (int i = 0; i < 5 && server.connections() > 0; ++i) server.run_once(20);
    REQUIRE(server.connections() == 0);  // ...and the server closed its fd, which the next accept will reuse

    // The next client gets the same fd (the lowest free one). In the batch that accepts it, a late
    // event for the old connection (generation 1, the first ever given) follows. Delivered, it would
    // only make the new connection read early; but a server that hands the kernel pointers to its
    // connections (nginx does) would be touching one that was freed. The generation stops it here.
    Fd second = connect_to(port);
    int reused_fd = ::dup(0);  // what the server's accept() will get
    ::close(reused_fd);
    REQUIRE(write_all(second.get(), hello).ok());
    poller.inject.push_back({reused_fd, 1, true, true, true});
    CHECK(serve_until_answered(server, second.get(), 1) == 1);
    CHECK(server.stale_events() == 1);
    CHECK(server.connections() == 1);  // the new connection was not touched by the stale event
    REQUIRE(write_all(second.get(), hello).ok());
    CHECK(serve_until_answered(server, second.get(), 1) == 1);
}

}  // TEST_SUITE
