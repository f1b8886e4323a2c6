// net: connect, clock and wait for the client threads.
#include "net.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <ctime>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace one::loadgen {

int64_t now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);  // a vDSO call: no syscall, cheap enough per read
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

sockaddr_in ipv4_address(uint32_t address, int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(address);
    return addr;
}

static bool bind_source(int fd, uint32_t source) {
    int on = 1;
    // Without this, bind() picks a port before it knows the destination and runs out at ~28k
    // per source address even though each destination could have its own set.
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
    sockaddr_in local = ipv4_address(source, 0);
    return ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0;
}

static bool set_rcvbuf(int fd, int bytes) {
    return ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) == 0;
}

Fd start_connect(const SocketAddress& server, uint32_t source, int rcvbuf, int& err) {
    Fd fd(::socket(server.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd || (source != 0 && !bind_source(fd.get(), source)) || (rcvbuf > 0 && !set_rcvbuf(fd.get(), rcvbuf))) {
        err = errno;
        return Fd();
    }
    set_nodelay(fd.get());  // a request goes out whole; Nagle would hold the next one back
    int rc = retry_eintr([&] { return ::connect(fd.get(), server.get(), server.length); });
    err = rc == 0 ? 0 : errno;
    if (rc != 0 && err != EINPROGRESS) return Fd();
    return fd;
}

void close_abortively(Fd& fd) {
    linger abort{1, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    fd.reset();
}

int connect_result(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
    return err;
}

int wait_events(int epoll_fd, epoll_event* events, int max_events, int64_t timeout_ns) {
    static std::atomic<bool> has_pwait2{true};  // Linux before 5.11 lacks it; every thread learns the same
    timeout_ns = std::max<int64_t>(timeout_ns, 0);
    int n = -1;
    if (has_pwait2.load(std::memory_order_relaxed)) {
        timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
        n = ::epoll_pwait2(epoll_fd, events, max_events, &ts, nullptr);
        if (n < 0 && errno == ENOSYS) has_pwait2.store(false, std::memory_order_relaxed);
    }
    if (!has_pwait2.load(std::memory_order_relaxed)) n = ::epoll_wait(epoll_fd, events, max_events, static_cast<int>((timeout_ns + 999'999) / 1'000'000));
    return std::max(n, 0);  // EINTR: a signal; the caller just looks at the clock again
}

}  // namespace one::loadgen
