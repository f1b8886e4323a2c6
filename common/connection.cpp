// connection: the non-blocking request cycle, shared by every event-loop chapter.
// read -> parse -> answer -> write, and when a step would block, say what we are waiting for.
#include "connection.hpp"

#include <sys/socket.h>

namespace one {
namespace {

constexpr size_t kConnectionReadSize = 4096;  // reads into a connection's own buffer (rare: a partial request)

// Answers the complete requests at the front of `bytes` into `sink`, stopping at the output
// high-water mark, at a response that closes the connection, or at one whose body is a file: its
// head is the last thing in `sink`, and the responses after it wait until the file is sent, so
// that they stay in order. Returns the bytes used.
size_t answer_requests(Connection& c, LoopShared& s, std::span<char> bytes, std::string& sink) {
    size_t used = 0;
    while (sink.size() < kOutputHighWater && !c.close_after_write && !c.file) {
        http::ParseResult r = c.parser.parse(bytes.subspan(used), s.request);
        if (r.incomplete()) break;
        if (r.error()) {
            http::append_response(http::error_response(r.http_status, r.why), sink);
            c.close_after_write = c.linger_after_write = true;
            return bytes.size();  // after a refused request nothing that follows can be trusted
        }
        http::Response response = s.app.handle(s.request);
        if (s.closing_all) response.keep_alive = false;  // the client reconnects, to a server that stays
        http::append_response(response, sink);
        if (response.file && http::sends_body(response)) c.file = std::move(response.file);  // else it closes here
        used += r.consumed;
        c.parser.reset();
        c.close_after_write = !response.keep_alive;
    }
    if (c.close_after_write && used < bytes.size()) c.linger_after_write = true;  // unread bytes follow
    return used;
}

// Answers what `bytes` holds and writes the answers. Output the socket will not take is kept in
// c.out (and c.file). Returns the bytes of `bytes` used; the rest is the start of a request yet to arrive.
size_t answer_and_write(Connection& c, LoopShared& s, std::span<char> bytes) {
    size_t used = 0;
    for (;;) {
        std::string& sink = s.out_scratch;
        sink.clear();
        size_t n = answer_requests(c, s, bytes.subspan(used), sink);
        used += n;
        size_t sent = 0;
        Sent result = send_output(c.fd.get(), sink, sent, c.file, s.files);
        if (result == Sent::Failed) {
            c.waiting = Waiting::Nothing;  // reset or broken pipe: the client is gone (or the file shrank)
            return bytes.size();
        }
        if (result == Sent::Partly) {  // the socket is full: keep the rest, and stop reading until it drains
            c.out.assign(sink, sent);
            c.out_sent = 0;
            return used;
        }
        c.file = {};  // all sent: close the file
        // If we stopped at the high-water mark or at a file, more complete requests may follow.
        if (n == 0 || c.close_after_write || used == bytes.size()) return used;
    }
}

void start_lingering(Connection& c) {
    ::shutdown(c.fd.get(), SHUT_WR);  // the client sees our end of the stream after the error response
    c.waiting = Waiting::Linger;
}

// Decides what the connection waits for next, now that it has read and written what it could.
void settle(Connection& c) {
    if (c.waiting == Waiting::Nothing || c.waiting == Waiting::Linger) return;
    if (!c.out.empty() || c.file) {
        c.waiting = Waiting::Writable;
    } else if (c.close_after_write) {
        if (c.linger_after_write) start_lingering(c);
        else c.waiting = Waiting::Nothing;
    } else if (c.peer_done) {
        c.waiting = Waiting::Nothing;  // the client has said all it will say, and has every answer
    } else {
        c.waiting = Waiting::Request;
        c.in.release();  // no-op unless empty: an idle connection holds no buffer
    }
}

// Reads and throws away what a lingering client still sends, until it closes.
void discard(Connection& c, LoopShared& s) {
    for (;;) {
        IoResult r = read_some(c.fd.get(), s.read_scratch);
        if (r.would_block()) return;
        if (!r.ok() || r.n == 0) {
            c.waiting = Waiting::Nothing;
            return;
        }
    }
}

}  // namespace

void on_readable(Connection& c, LoopShared& s) {
    if (c.waiting == Waiting::Linger) return discard(c, s);
    if (c.waiting != Waiting::Request) return;  // an edge-triggered report while we wait to write
    c.more_to_read = false;
    for (int reads = 0; c.waiting == Waiting::Request; ++reads) {
        if (reads == (s.edge_triggered ? kReadsPerTurn : 1)) {
            c.more_to_read = s.edge_triggered;  // its share is spent; the edge will not come again
            break;
        }
        bool fresh = c.in.empty();  // nothing pending: read into the shared buffer, copy nothing
        std::span<char> into = fresh ? std::span<char>(s.read_scratch) : c.in.writable(kConnectionReadSize);
        IoResult r = read_some(c.fd.get(), into);
        if (r.would_block()) break;
        if (!r.ok()) {
            c.waiting = Waiting::Nothing;  // ECONNRESET and friends
            return;
        }
        if (r.n == 0) {
            c.peer_done = true;
            break;
        }
        if (fresh) {
            std::span<char> bytes = into.first(static_cast<size_t>(r.n));
            size_t used = answer_and_write(c, s, bytes);
            if (used < bytes.size() && c.waiting != Waiting::Nothing) c.in.append(bytes.subspan(used));
        } else {
            c.in.commit(static_cast<size_t>(r.n));
            c.in.consume(answer_and_write(c, s, c.in.readable()));
        }
        settle(c);
    }
    settle(c);
}

void on_writable(Connection& c, LoopShared& s) {
    if (c.waiting != Waiting::Writable) return;
    Sent result = send_output(c.fd.get(), c.out, c.out_sent, c.file, s.files);
    if (result == Sent::Failed) {
        c.waiting = Waiting::Nothing;
        return;
    }
    if (result == Sent::Partly) return;  // still full
    std::string().swap(c.out);           // give the memory back, not just the bytes
    c.out_sent = 0;
    c.file = {};                         // and the file's descriptor
    c.waiting = Waiting::Request;
    if (!c.in.empty() && !c.close_after_write) c.in.consume(answer_and_write(c, s, c.in.readable()));
    settle(c);
    // Edge-triggered: bytes that arrived while we were not reading will not be reported again.
    if (s.edge_triggered && c.waiting == Waiting::Request) on_readable(c, s);
}

Interest interest_of(const Connection& c) {
    switch (c.waiting) {
    case Waiting::Request:
    case Waiting::Linger: return {true, false};
    case Waiting::Writable: return {false, true};
    case Waiting::Nothing: break;
    }
    return {};
}

}  // namespace one
