// blocking_session: read, parse, answer, repeat; every call here may put the thread to sleep.
#include "blocking_session.hpp"

#include "buffer.hpp"
#include "narrate.hpp"
#include "status.hpp"

#include <chrono>
#include <cstring>
#include <sys/socket.h>
#include <thread>

namespace one {

constexpr size_t kReadChunk = 16 * 1024;

void lingering_close(Fd client) {
    ::shutdown(client.get(), SHUT_WR);
    set_io_timeout(client.get(), 500);
    char sink[2048];  // small: chapter 02 may run this on a 64 KiB thread stack
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < give_up) {
        IoResult r = read_some(client.get(), sink);
        if (!r.ok() || r.n == 0) break;
    }
}

// Writes and clears `out`; false if the client is gone or stopped reading past the timeout.
static bool flush(int fd, std::string& out) {
    IoResult r = write_all(fd, out);
    out.clear();
    return r.ok();
}

void serve_blocking(Fd client, const App& app, const ServerOptions& options) {
    status::CountedConnection counted;
    struct SaysClosing {  // whichever way the session ends, said while the number is still this client's
        int fd;
        bool said = false;
        void say(const char* how) {
            if (narrate::on && !said) narrate::line("fd " + std::to_string(fd) + how);
            said = true;
        }
        ~SaysClosing() { say(": done, closing"); }
    } says_closing{client.get()};
    set_io_timeout(client.get(), options.idle_timeout_ms);
    set_nodelay(client.get());
    Buffer in;
    http::RequestParser parser(options.max_body);
    http::Request request;
    std::string out;
    for (;;) {
        http::ParseResult parsed = parser.parse(in.readable(), request);
        if (parsed.complete()) {
            status::add(status::mine().requests);
            counted.now(status::State::Writing);
            // Answer every request already buffered before writing: a pipelined batch gets one write.
            http::Response response = app.handle(request);
            if (narrate::on) narrate::request(client.get(), request.method, request.target, std::to_string(response.status));
            http::append_response(response, out);
            in.consume(parsed.consumed);
            parser.reset();
            if (!response.keep_alive) break;
            continue;
        }
        if (parsed.error()) {
            if (narrate::on) narrate::refusal(client.get(), parsed.http_status, parsed.why);
            http::append_response(http::error_response(parsed.http_status, parsed.why), out);
            counted.now(status::State::Closing);
            if (flush(client.get(), out)) {
                says_closing.say(": lingers, reading what the client still sends, then closes");
                lingering_close(std::move(client));
            }
            return;
        }
        if (!out.empty()) {
            counted.now(status::State::Writing);
            if (!flush(client.get(), out)) return;
        }
        counted.now(parser.started() || !in.empty() ? status::State::Reading : status::State::Idle);
        if (narrate::on)
            narrate::line("fd " + std::to_string(client.get()) + ": read sleeps until the client sends" +
                          (parser.started() ? " the rest" : ", for up to " + std::to_string(options.idle_timeout_ms / 1000) + " s"));
        IoResult got = read_some(client.get(), in.writable(kReadChunk));
        if (got.would_block() && parser.started()) {  // SO_RCVTIMEO expired mid-request
            http::append_response(http::error_response(408, "request not completed in time"), out);
            flush(client.get(), out);
            return;
        }
        if (!got.ok() || got.n == 0) return;  // timeout between requests, reset, or the client closed
        in.commit(static_cast<size_t>(got.n));
    }
    counted.now(status::State::Writing);  // the last answer, then the close
    flush(client.get(), out);
}

void after_accept_error(int err, BurstLog& out_of_fds) {
    switch (grade_accept_error(err)) {
    case AcceptError::Retry:
    case AcceptError::WouldBlock:
        return;
    case AcceptError::OutOfFds:
        // The client stays in the kernel's accept queue; retrying at once would spin on EMFILE.
        out_of_fds.failure(std::strerror(err));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return;
    case AcceptError::Fatal:
        throw_errno("accept", err);
    }
}

}  // namespace one
