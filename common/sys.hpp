// sys: the thin layer over the kernel's socket calls that every chapter shares.
// It owns descriptors (Fd), is the one place that retries EINTR and captures errno,
// and sorts accept() errors into "carry on", "pause: out of descriptors" and "fatal".
#pragma once

#include <cerrno>
#include <cstddef>
#include <span>
#include <string>
#include <sys/socket.h>
#include <sys/types.h>
#include <utility>

namespace one {

// Owns one file descriptor and closes it exactly once. Move-only.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(other.release()) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1);

private:
    int fd_ = -1;
};

// What one read or write did. `n` bytes moved, or `error` holds the errno that stopped it.
// EAGAIN is reported as would_block() rather than as a failure: for a non-blocking socket it is news, not trouble.
struct IoResult {
    ssize_t n = 0;  // bytes moved; 0 from a read means the peer closed its side
    int error = 0;  // errno, 0 when the call succeeded

    bool ok() const { return error == 0; }
    bool would_block() const { return error == EAGAIN || error == EWOULDBLOCK; }
    bool peer_closed() const { return ok() && n == 0; }
};

// Calls `call` until it stops failing with EINTR, so a signal never looks like an error.
// Returns the call's result; errno is left as the call set it.
template <typename Call>
auto retry_eintr(Call call) {
    for (;;) {
        auto result = call();
        if (!(result == -1 && errno == EINTR)) return result;
    }
}

// recv/send with EINTR retried and errno captured. send() uses MSG_NOSIGNAL: a closed peer
// gives EPIPE, never the SIGPIPE that would kill the server.
IoResult read_some(int fd, std::span<char> into);
IoResult write_some(int fd, std::span<const char> bytes);

// Writes everything on a blocking socket; stops at the first error (including a send timeout).
IoResult write_all(int fd, std::span<const char> bytes);

// An IPv4 or IPv6 address with a port, in the form bind() and connect() take.
struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family() const { return storage.ss_family; }
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// "127.0.0.1", "localhost", "::1", "::" (no names looked up: a server is told where to listen).
// Throws std::system_error (EINVAL) for anything else.
SocketAddress parse_address(const std::string& host, int port);

// "127.0.0.1:43210", or "[::1]:43210" for IPv6, as a URL writes them; without the port when asked.
std::string format_address(const sockaddr* address, bool with_port = true);

// A listening TCP socket on host:port (port 0 lets the kernel choose). SO_REUSEADDR always,
// SO_REUSEPORT when asked. "::" listens on IPv6 and IPv4 both; "::1" on IPv6 alone. Throws
// std::system_error on failure, saying so plainly when the machine has no IPv6.
Fd listen_tcp(const std::string& host, int port, int backlog = 4096, bool reuseport = false);

// The address and port a socket is bound to, and those of its peer, as format_address() writes them.
std::string local_address(int fd);
std::string peer_address(int fd, bool with_port = true);
// The port a socket is bound to.
int local_port(int fd);

void set_nonblocking(int fd);
void set_nodelay(int fd);
// SO_RCVTIMEO and SO_SNDTIMEO: a blocking read or write gives up (EAGAIN) after this long.
void set_io_timeout(int fd, int milliseconds);

// How the caller should react to an accept() that returned -1.
enum class AcceptError {
    Retry,        // EINTR, ECONNABORTED, EPROTO, ...: that one client is gone; accept the next
    WouldBlock,   // EAGAIN: the accept queue is empty (non-blocking listener)
    OutOfFds,     // EMFILE, ENFILE, ENOBUFS, ENOMEM: stop accepting for a moment, never spin
    Fatal,        // anything else (EBADF, EINVAL, ...): a bug; give up
};
AcceptError grade_accept_error(int err);

// accept4() with SOCK_CLOEXEC (and SOCK_NONBLOCK when asked). On failure returns an empty Fd
// and sets `err` to errno.
Fd accept_client(int listen_fd, int& err, bool nonblocking = false);

// Sending to a peer that has gone must give EPIPE, not kill the process.
void ignore_sigpipe();

// Raises the soft RLIMIT_NOFILE to the hard limit and returns the limit now in force.
long raise_fd_limit();

// Throws std::system_error for errno `err` with "what" as context.
[[noreturn]] void throw_errno(const std::string& what, int err = errno);

}  // namespace one
