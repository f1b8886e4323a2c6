// fake_backend: a backend for chapter 09's tests, in the test's own process, that does exactly
// what a test says: answer with any bytes (bad ones too), close before answering, reset, stall.
// A thread per connection and blocking sockets: the simplest server there is, on purpose.
#pragma once

#include "common/sys.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace one::test {

// One request as the backend read it.
struct Seen {
    std::string head;     // request line and header fields, up to the blank line
    std::string body;     // by Content-Length (the proxy always frames it so)
    int connection = 0;   // which of the backend's connections carried it, from 1
    std::string header(std::string_view name) const {  // the first field called `name` (any case)
        std::string lower_head = head, lower_name = std::string(name) + ":";
        for (char& c : lower_head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (char& c : lower_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t at = lower_head.find("\r\n" + lower_name);
        if (at == std::string::npos) return "";
        size_t from = head.find_first_not_of(' ', at + 2 + lower_name.size());
        return head.substr(from, head.find("\r\n", from) - from);
    }
};

// What a script returns: the bytes to send back, or one of these.
inline const std::string kCloseNow = "<close>";  // close the connection without a byte
inline const std::string kResetNow = "<reset>";  // close it with a reset
inline const std::string kCloseAfter = "<close-after>";  // a prefix: send the rest, then close

inline std::string ok(std::string_view body, std::string_view extra = "") {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + std::string(extra) + "\r\n" +
           std::string(body);
}

// A 200 with `body` in chunks of `piece` bytes, ended by the last chunk unless `cut` (a backend
// that stops halfway).
inline std::string ok_chunked(const std::string& body, size_t piece, bool cut = false) {
    std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (size_t at = 0; at < body.size(); at += piece) {
        std::string part = body.substr(at, piece);
        char size[20];
        std::snprintf(size, sizeof size, "%zx\r\n", part.size());
        out += size + part + "\r\n";
    }
    return cut ? out : out + "0\r\n\r\n";
}

// `size` bytes of letters that do not repeat within 4 KiB, so a relayed body that lost, doubled
// or swapped a block compares unequal.
inline std::string pattern(size_t size) {
    std::string bytes(size, '\0');
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
    return bytes;
}

class FakeBackend {
public:
    using Script = std::function<std::string(const Seen&)>;

    // On `port`, or on one the kernel picks (0).
    explicit FakeBackend(Script script, int port = 0) : script_(std::move(script)) {
        listener_ = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        int on = 1;
        ::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(static_cast<uint16_t>(port));
        socklen_t len = sizeof address;
        if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), len) < 0) throw std::runtime_error("bind");
        ::listen(listener_.get(), 128);
        ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &len);
        port_ = ntohs(address.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }

    ~FakeBackend() {
        stopping_ = true;
        ::shutdown(listener_.get(), SHUT_RDWR);  // wakes accept()
        acceptor_.join();
        {
            std::lock_guard lock(mutex_);
            for (int fd : open_) ::shutdown(fd, SHUT_RDWR);  // wakes reads and writes
        }
        for (std::thread& t : workers_) t.join();
    }

    int port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    std::vector<Seen> seen() const {
        std::lock_guard lock(mutex_);
        return seen_;
    }
    int connections() const { return connections_; }  // accepted so far
    size_t open_connections() const {
        std::lock_guard lock(mutex_);
        return open_.size();
    }

private:
    void accept_loop() {
        for (;;) {
            int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                if (stopping_) return;
                continue;
            }
            std::lock_guard lock(mutex_);
            open_.push_back(fd);
            workers_.emplace_back([this, fd, n = ++connections_] { serve(fd, n); });
        }
    }

    void serve(int fd, int connection) {
        std::string pending;
        for (Seen request; read_request(fd, pending, request); request = {}) {
            request.connection = connection;
            {
                std::lock_guard lock(mutex_);
                seen_.push_back(request);
            }
            std::string answer = script_(request);
            if (answer == kCloseNow) break;
            if (answer == kResetNow) {
                linger reset{1, 0};
                ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
                break;
            }
            bool close_after = answer.rfind(kCloseAfter, 0) == 0;
            if (close_after) answer.erase(0, kCloseAfter.size());
            if (!write_all(fd, answer).ok() || close_after) break;
        }
        std::lock_guard lock(mutex_);
        std::erase(open_, fd);
        ::close(fd);
    }

    static bool read_request(int fd, std::string& pending, Seen& out) {
        size_t end;
        while ((end = pending.find("\r\n\r\n")) == std::string::npos)
            if (!fill(fd, pending)) return false;
        out.head = pending.substr(0, end + 2);
        pending.erase(0, end + 4);
        std::string length = out.header("content-length");
        size_t want = length.empty() ? 0 : std::stoul(length);
        while (pending.size() < want)
            if (!fill(fd, pending)) return false;
        out.body = pending.substr(0, want);
        pending.erase(0, want);
        return true;
    }

    static bool fill(int fd, std::string& pending) {
        char chunk[16384];
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return false;
        pending.append(chunk, static_cast<size_t>(n));
        return true;
    }

    Script script_;
    Fd listener_;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> connections_{0};
    std::thread acceptor_;
    mutable std::mutex mutex_;
    std::vector<std::thread> workers_;
    std::vector<int> open_;
    std::vector<Seen> seen_;
};

}  // namespace one::test

namespace one::test {

// A port where nobody listens (for now): connecting to it is refused.
inline int unused_port() {
    FakeBackend probe([](const Seen&) { return kCloseNow; });
    return probe.port();
}

}  // namespace one::test
