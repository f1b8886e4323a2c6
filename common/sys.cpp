// sys: socket calls with EINTR retried, errno captured and accept errors graded.
#include "sys.hpp"

#include "narrate.hpp"
#include "status.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>

namespace one {

void Fd::reset(int fd) {
    // close() is not retried on EINTR: on Linux the descriptor is gone either way,
    // and a retry could close a descriptor another thread has just been given.
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

[[noreturn]] void throw_errno(const std::string& what, int err) {
    throw std::system_error(err, std::generic_category(), what);
}

IoResult read_some(int fd, std::span<char> into) {
    ssize_t n = retry_eintr([&] { return ::recv(fd, into.data(), into.size(), 0); });
    if (n < 0) {
        int err = errno;
        if (narrate::on) narrate::line("fd " + std::to_string(fd) + ": read -> " + (err == EAGAIN ? "EAGAIN, no bytes waiting" : std::strerror(err)));
        return {0, err};
    }
    status::count_bytes_in(static_cast<uint64_t>(n));
    if (narrate::on) narrate::line("fd " + std::to_string(fd) + ": read " + std::to_string(n) + " bytes" + (n == 0 ? ": the client has closed its side" : ""));
    return {n, 0};
}

IoResult write_some(int fd, std::span<const char> bytes) {
    ssize_t n = retry_eintr([&] { return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL); });
    if (n < 0) {
        int err = errno;
        if (narrate::on) narrate::line("fd " + std::to_string(fd) + ": write -> " + (err == EAGAIN ? "EAGAIN, the send buffer is full" : std::strerror(err)));
        return {0, err};
    }
    status::count_bytes_out(static_cast<uint64_t>(n));
    if (narrate::on) narrate::line("fd " + std::to_string(fd) + ": write " + std::to_string(n) + " of " + std::to_string(bytes.size()) + " bytes");
    return {n, 0};
}

IoResult write_all(int fd, std::span<const char> bytes) {
    ssize_t total = 0;
    while (!bytes.empty()) {
        IoResult r = write_some(fd, bytes);
        if (!r.ok()) return {total, r.error};
        total += r.n;
        bytes = bytes.subspan(static_cast<size_t>(r.n));
    }
    return {total, 0};
}

SocketAddress parse_address(const std::string& host, int port) {
    SocketAddress address;
    std::string name = host == "localhost" ? "127.0.0.1" : host;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    if (::inet_pton(AF_INET, name.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<uint16_t>(port));
        address.length = sizeof *v4;
    } else if (::inet_pton(AF_INET6, name.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<uint16_t>(port));
        address.length = sizeof *v6;
    } else {
        throw std::system_error(EINVAL, std::generic_category(), "not an IPv4 or IPv6 address: " + host);
    }
    return address;
}

std::string format_address(const sockaddr* address, bool with_port) {
    char text[INET6_ADDRSTRLEN] = {};
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (address->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
        // An IPv4 client of a "::" listener, ::ffff:127.0.0.1: written as the IPv4 address it is
        sockaddr_in v4{};
        v4.sin_family = AF_INET;
        v4.sin_port = v6->sin6_port;
        std::memcpy(&v4.sin_addr, &v6->sin6_addr.s6_addr[12], 4);
        return format_address(reinterpret_cast<const sockaddr*>(&v4), with_port);
    }
    if (address->sa_family == AF_INET6) {
        ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
        return with_port ? "[" + std::string(text) + "]:" + std::to_string(ntohs(v6->sin6_port)) : text;
    }
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    return with_port ? std::string(text) + ":" + std::to_string(ntohs(v4->sin_port)) : text;
}

static void set_int_option(int fd, int level, int name, int value, const char* what) {
    if (::setsockopt(fd, level, name, &value, sizeof value) < 0) throw_errno(what);
}

Fd listen_tcp(const std::string& host, int port, int backlog, bool reuseport) {
    if (port < 0 || port > 65535) throw std::system_error(EINVAL, std::generic_category(), "port out of range");
    SocketAddress address = parse_address(host, port);
    bool ipv6 = address.family() == AF_INET6;
    const in6_addr& ip6 = reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_addr;
    bool any6 = ipv6 && IN6_IS_ADDR_UNSPECIFIED(&ip6);  // "::", however it is written ("::0" too)
    std::string where = format_address(address.get());
    Fd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd && ipv6 && errno == EAFNOSUPPORT) throw_errno("IPv6 is not available on this machine (--host " + host + ")");
    if (!fd) throw_errno("socket");
    // Without SO_REUSEADDR a restarted server cannot bind while old connections sit in TIME_WAIT.
    set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    if (reuseport) set_int_option(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
    // "::" takes IPv4 clients too (as ::ffff:a.b.c.d) unless the socket is IPv6-only, whose
    // default is the sysctl net.ipv6.bindv6only: set it either way, so --host means one thing.
    if (ipv6) set_int_option(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, !any6, "IPV6_V6ONLY");
    if (::bind(fd.get(), address.get(), address.length) < 0) {
        // ::1 and :: belong to every machine with IPv6: failing to bind them means it has none
        // (IPv6 turned off, on the loopback interface at least); any other address is just not ours
        if ((any6 || IN6_IS_ADDR_LOOPBACK(&ip6)) && errno == EADDRNOTAVAIL)
            throw_errno("IPv6 is not available on this machine: bind " + where);
        throw_errno("bind " + where);
    }
    if (::listen(fd.get(), backlog) < 0) throw_errno("listen");
    return fd;
}

std::string local_address(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) throw_errno("getsockname");
    return format_address(reinterpret_cast<sockaddr*>(&address));
}

std::string peer_address(int fd, bool with_port) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) return "unknown";
    return format_address(reinterpret_cast<sockaddr*>(&address), with_port);
}

int local_port(int fd) {
    std::string address = local_address(fd);
    return std::stoi(address.substr(address.rfind(':') + 1));
}

void set_nonblocking(int fd) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw_errno("fcntl O_NONBLOCK");
}

void set_nodelay(int fd) {
    // A response is written in one piece; Nagle would only hold back the tail of a pipelined batch.
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void set_io_timeout(int fd, int milliseconds) {
    timeval tv{milliseconds / 1000, (milliseconds % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

AcceptError grade_accept_error(int err) {
    switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return AcceptError::WouldBlock;
    case EINTR:
    case ECONNABORTED:  // the client reset before we took it off the queue
    case EPROTO:
    case EPERM:         // a firewall rule refused this one client
        return AcceptError::Retry;
    case EMFILE:        // this process is at RLIMIT_NOFILE
    case ENFILE:        // the whole system is out of file structures
    case ENOBUFS:
    case ENOMEM:
        return AcceptError::OutOfFds;
    default:
        return AcceptError::Fatal;
    }
}

Fd accept_client(int listen_fd, int& err, bool nonblocking) {
    int flags = SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
    if (narrate::on && !nonblocking) narrate::line("accept: sleeps until a client connects");
    int fd = ::accept4(listen_fd, nullptr, nullptr, flags);
    err = fd < 0 ? errno : 0;
    if (narrate::on && fd >= 0) narrate::line("accept -> fd " + std::to_string(fd) + " (" + peer_address(fd) + ")");
    if (narrate::on && fd < 0 && err != EAGAIN) narrate::line(std::string("accept -> ") + std::strerror(err));
    if (status::counting && fd >= 0) status::add(status::mine().accepted);
    if (status::counting && (err == EMFILE || err == ENFILE)) status::count_refusal(status::Refusal::AcceptOutOfDescriptors);
    return Fd(fd);
}

void ignore_sigpipe() { std::signal(SIGPIPE, SIG_IGN); }

long raise_fd_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) < 0) return -1;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &lim);
        ::getrlimit(RLIMIT_NOFILE, &lim);
    }
    return static_cast<long>(lim.rlim_cur);
}

}  // namespace one
