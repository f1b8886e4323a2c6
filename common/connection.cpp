// connection: the non-blocking request cycle, shared by every event-loop chapter.
// read -> parse -> answer -> write, and when a step would block, say what we are waiting for.
#include "connection.hpp"

#include "narrate.hpp"

#include <algorithm>
#include <sys/socket.h>

namespace one {
namespace {

constexpr size_t kConnectionReadSize = 4096;  // reads into a connection's own buffer (rare: a partial request)
constexpr size_t kHandOverWhole = 64 * 1024;   // unsent output longer than this moves to the connection as it is

// The answer to s.request, whose bytes are `raw`. Chapter 08 hands what would make the loop wait
// to its pool instead, chapter 09 every request to its backends: then nothing, and the answer
// comes later (on_job_done).
std::optional<http::Response> answer_now(Connection& c, LoopShared& s, std::span<const char> raw) {
    // A proxy forwards everything but its own page: the front door's /status tells about the front
    // door (a backend's is on the backend's own port).
    bool own_page = s.offload_everything && s.request.path == "/status";
    std::optional<http::Response> now;  // the only object returned, so returning it copies nothing
    if (!s.offload || own_page) now = s.app.handle(s.request);
    else if (!s.offload_everything) now = s.app.handle_without_waiting(s.request);
    if (!now) {
        // Told before it happens: a pool thread may tell its part before answer_later() returns.
        if (narrate::on) narrate::request(c.fd.get(), s.request.method, s.request.target, s.offload->narrated_as());
        now = s.offload->answer_later(c.fd.get(), c.generation, s.request, raw);  // 503 at once if it is full
        return now;
    }
    if (narrate::on) narrate::request(c.fd.get(), s.request.method, s.request.target, std::to_string(now->status));
    return now;
}

// Adds `response` to what the connection sends: its bytes to `sink`, its file (if any) to c.file.
void queue_response(Connection& c, LoopShared& s, http::Response& response, std::string& sink) {
    if (s.closing_all) response.keep_alive = false;  // the client reconnects, to a server that stays
    http::append_response(response, sink);
    if (response.file && http::sends_body(response)) c.file = std::move(response.file);  // else it closes here
    if (response.stream && http::sends_body(response)) c.stream = std::move(response.stream);
    c.close_after_write = !response.keep_alive;
}

// RFC 9110 §10.1.1: a client that sends "Expect: 100-continue" waits (curl: one second) for a "go
// on" before it sends the body. Once its head has arrived and been accepted, say it, once. (A head
// refused, 413 for a body too large, say, gets its answer instead, and the body never comes.)
// Called only in the parse that saw the head complete: `request`'s views are fresh then.
void answer_expect_continue(Connection& c, const http::Request& request, std::string& sink) {
    if (c.continue_sent || request.minor_version == 0 || !http::iequals(request.header("expect"), "100-continue")) return;
    sink += "HTTP/1.1 100 Continue\r\n\r\n";
    c.continue_sent = true;
}

// Chapter 08: the file's next stretch is not in the page cache. The pool reads it, and sending goes
// on once it has. With the pool's queue full, the loop sends it anyway and waits for the disk this
// once, as chapter 07 always does: slower for everyone for a moment, but nobody is dropped.
void warm_file(Connection& c, LoopShared& s) {
    size_t stretch = std::min(kCacheStretch, c.file.length);
    if (s.offload && s.offload->warm_later(c.fd.get(), c.generation, c.file, stretch)) c.warming = true;
    else c.file.cached = stretch;
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
        Sent result = send_output(c.fd.get(), c.transport.get(), sink, sent, c.file, s.files);
        if (result == Sent::Failed) {
            c.waiting = Waiting::Nothing;  // reset or broken pipe: the client is gone (or the file shrank)
            c.cut_short = true;
            return bytes.size();
        }
        if (result == Sent::Partly || result == Sent::Cold) {  // keep the rest; stop reading until it is gone
            if (sink.size() - sent > kHandOverWhole) {
                c.out.swap(sink);  // a long answer (chapter 09's buffered ones): handed over, not copied
                c.out_sent = sent;
            } else {
                c.out.assign(sink, sent);  // the scratch keeps its memory; the connection takes only what it needs
                c.out_sent = 0;
            }
            if (result == Sent::Cold) warm_file(c, s);
            return used;
        }
        c.file = {};  // all sent: close the file
        if (c.stream) return used;  // its bytes go out when the socket is writable (on_writable)
        // If we stopped at the high-water mark or at a file, more complete requests may follow.
        if (n == 0 || c.close_after_write || c.answer_pending || used == bytes.size()) return used;
    }
}

void start_lingering(Connection& c) {
    // TLS: the closing alert goes before TCP's end of stream, or it cannot go at all
    if (c.transport) c.transport->shut_down();
    ::shutdown(c.fd.get(), SHUT_WR);  // the client sees our end of the stream after the error response
    c.waiting = Waiting::Linger;
}

// Decides what the connection waits for next, now that it has read and written what it could.
void settle(Connection& c) {
    if (c.waiting == Waiting::Nothing || c.waiting == Waiting::Linger) return;
    if (c.warming) {
        c.waiting = Waiting::Job;  // not writable: the next bytes to send are on their way from the disk
    } else if (!c.out.empty() || c.file || c.stream) {
        c.waiting = Waiting::Writable;  // (while an answer is made off the loop, the ones before it go out)
    } else if (c.answer_pending) {
        c.waiting = Waiting::Job;
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
        IoResult r = read_from(c, s.read_scratch);
        if (r.would_block()) return;
        if (!r.ok() || r.n == 0) {
            c.waiting = Waiting::Nothing;
            return;
        }
    }
}

}  // namespace

IoResult read_from(Connection& c, std::span<char> into) {
    return c.transport ? c.transport->read(into) : read_some(c.fd.get(), into);
}

IoResult write_to(Connection& c, std::span<const char> bytes) {
    return c.transport ? c.transport->write(bytes) : write_some(c.fd.get(), bytes);
}

size_t answer_requests(Connection& c, LoopShared& s, std::span<char> bytes, std::string& sink) {
    size_t used = 0;
    while (sink.size() < kOutputHighWater && !c.close_after_write && !c.file && !c.stream && !c.answer_pending) {
        bool head_was_done = c.parser.head_done();
        http::ParseResult r = c.parser.parse(bytes.subspan(used), s.request);
        if (r.incomplete()) {
            if (!head_was_done && c.parser.head_done()) answer_expect_continue(c, s.request, sink);
            break;
        }
        if (r.error()) {
            if (narrate::on) narrate::refusal(c.fd.get(), r.http_status, r.why);
            http::append_response(http::error_response(r.http_status, r.why), sink);
            c.close_after_write = c.linger_after_write = true;
            return bytes.size();  // after a refused request nothing that follows can be trusted
        }
        status::add(status::mine().requests);
        status::move(c.counted, status::State::Writing);  // answering it; the loop settles the state after
        std::optional<http::Response> response = answer_now(c, s, bytes.subspan(used, r.consumed));
        used += r.consumed;
        c.parser.reset();
        c.continue_sent = false;
        if (response) queue_response(c, s, *response, sink);
        else c.answer_pending = true;
    }
    if (c.close_after_write && used < bytes.size()) c.linger_after_write = true;  // unread bytes follow
    return used;
}

void deadline_passed(Connection& c, Deadline which) {
    bool handshaking = c.transport && !c.transport->established();
    if (narrate::on)
        narrate::line("fd " + std::to_string(c.fd.get()) + ": " +
                      (which == Deadline::Idle ? "silent too long"
                       : handshaking           ? "TLS handshake not completed in time"
                       : which == Deadline::Header ? "request not completed in time"
                                                   : "lingered long enough"));
    if (c.waiting == Waiting::Request && c.parser.started()) {  // mid-request: say why we hang up
        std::string bytes;
        http::append_response(http::error_response(408, "request not completed in time"), bytes);
        write_to(c, bytes);  // rare, and the client is about to go: one try, and through TLS where there is a session
    }
}

void narrate_state(const Connection& c, status::State now, Clock::duration idle_timeout) {
    std::string fd = "fd " + std::to_string(c.fd.get());
    switch (now) {
    case status::State::Idle:
        return narrate::line(fd + " idle, closed after " +
                             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(idle_timeout).count()) + " s of silence");
    case status::State::Reading: return narrate::line(fd + " has part of a request: waits for the rest");
    case status::State::Writing:
        return narrate::line(fd + (c.waiting == Waiting::Job ? " waits for its answer, made off the loop" : " waits for room in its send buffer"));
    case status::State::Closing: return narrate::line(fd + " lingers: reads what the client still sends, then closes");
    case status::State::None: return;
    }
}

status::State state_of(const Connection& c) {
    switch (c.waiting) {
    case Waiting::Request: return c.parser.started() || !c.in.empty() ? status::State::Reading : status::State::Idle;
    case Waiting::Writable:
    case Waiting::Job: return status::State::Writing;
    case Waiting::Linger:
    case Waiting::Nothing: return status::State::Closing;
    }
    return status::State::None;
}

// Chapters 08 and 09: while its answer is made elsewhere, a connection stays watched for readable
// (interest_of), so that a client waiting for it, as nearly all do, costs no epoll_ctl to stop
// watching and another to start again. If the client does send (the next pipelined request, or the
// end of its stream), one read keeps it for later, and the watch stops until the answer is out.
void read_ahead(Connection& c) {
    IoResult r = read_from(c, c.in.writable(kConnectionReadSize));
    if (r.would_block()) return;
    if (!r.ok()) c.waiting = Waiting::Nothing;  // reset: the answer, when it comes, is dropped
    else if (r.n == 0) c.peer_done = true;
    else c.in.commit(static_cast<size_t>(r.n));
}

void on_readable(Connection& c, LoopShared& s) {
    // Chapter 11: a TLS write that stopped for the peer's message goes on when it has come.
    if (c.transport && c.transport->crossed() && c.waiting == Waiting::Writable) return on_writable(c, s);
    if (c.waiting == Waiting::Linger) return discard(c, s);
    if (c.waiting == Waiting::Job && c.answer_pending) return read_ahead(c);
    if (c.waiting != Waiting::Request) return;  // an edge-triggered report while we wait to write
    c.more_to_read = false;
    for (int reads = 0; c.waiting == Waiting::Request; ++reads) {
        if (reads == (s.edge_triggered ? kReadsPerTurn : 1)) {
            // Its share is spent. Edge-triggered, the edge will not come again; and bytes a TLS
            // session has already read (chapter 11) are in no socket for the poller to see.
            c.more_to_read = s.edge_triggered || (c.transport && c.transport->holds_input());
            break;
        }
        bool fresh = c.in.empty();  // nothing pending: read into the shared buffer, copy nothing
        std::span<char> into = fresh ? std::span<char>(s.read_scratch) : c.in.writable(kConnectionReadSize);
        IoResult r = read_from(c, into);
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

// Chapter 09: the next piece of a body still arriving, into c.out (which is all sent). Returns
// false when the connection must wait: for the piece (Waiting::Job) or for good (Nothing).
bool next_piece(Connection& c) {
    c.out.clear();
    c.out_sent = 0;
    switch (c.stream->pull(c.out)) {
    case http::BodyStream::Pull::More: return true;
    case http::BodyStream::Pull::End: c.stream.reset(); return true;
    case http::BodyStream::Pull::Wait: c.waiting = Waiting::Job; return false;
    case http::BodyStream::Pull::Broken:  // the client sees the body cut short
        c.waiting = Waiting::Nothing;
        c.cut_short = true;
        return false;
    }
    return false;
}

void on_writable(Connection& c, LoopShared& s) {
    // Chapter 11: a TLS read that stopped to send a message of its own goes on when it can.
    if (c.transport && c.transport->crossed() && c.waiting != Waiting::Writable) return on_readable(c, s);
    if (c.waiting != Waiting::Writable) return;
    for (;;) {
        Sent result = send_output(c.fd.get(), c.transport.get(), c.out, c.out_sent, c.file, s.files);
        if (result == Sent::Failed) {
            c.waiting = Waiting::Nothing;
            c.cut_short = true;
            return;
        }
        if (result == Sent::Partly) return;  // still full
        if (result == Sent::Cold) {
            warm_file(c, s);
            return settle(c);
        }
        if (!c.stream) break;
        if (!next_piece(c)) return;
    }
    std::string().swap(c.out);           // give the memory back, not just the bytes
    c.out_sent = 0;
    c.file = {};                         // and the file's descriptor
    c.waiting = Waiting::Request;
    if (!c.in.empty() && !c.close_after_write && !c.answer_pending) c.in.consume(answer_and_write(c, s, c.in.readable()));
    settle(c);
    // Edge-triggered: bytes that arrived while we were not reading will not be reported again. And
    // a TLS session (chapter 11) may hold bytes of the next request already, in no socket.
    bool unseen = s.edge_triggered || (c.transport && c.transport->holds_input());
    if (unseen && c.waiting == Waiting::Request) on_readable(c, s);
}

void on_job_done(Connection& c, LoopShared& s, std::optional<http::Response> answer) {
    if (c.stream) {
        // chapter 09: more of the body has come; the answer (if any) is already being sent
    } else if (c.warming) {
        c.warming = false;
        c.file.cached = std::min(kCacheStretch, c.file.length);  // trusted, not asked again: no ping-pong
    } else if (c.answer_pending && answer) {
        c.answer_pending = false;
        queue_response(c, s, *answer, c.out);  // after whatever earlier responses have not gone yet
        if (c.close_after_write && !c.in.empty()) c.linger_after_write = true;  // unread requests follow
    }
    c.waiting = Waiting::Writable;
    on_writable(c, s);
}

Interest interest_of(const Connection& c) {
    if (c.transport && c.transport->crossed()) return c.transport->waiting_for();
    switch (c.waiting) {
    case Waiting::Request:
    case Waiting::Linger: return {true, false};
    case Waiting::Writable: return {false, true};
    case Waiting::Job: return {c.answer_pending && !c.warming && !c.stream && c.in.empty() && !c.peer_done, false};  // read_ahead
    case Waiting::Nothing: break;
    }
    return {};
}

}  // namespace one
