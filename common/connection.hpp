// connection: one client of a non-blocking server (chapters 03 on), and what to do when its socket
// is readable or writable. Nothing here ever waits: a read or write that would block returns
// EAGAIN, and the connection records what it is waiting for so the loop can ask the kernel to
// say when that has come.
//
// Memory is the point of the design. An idle keep-alive connection holds only this struct: bytes
// are read into a buffer shared by every connection on the loop, parsed there, answered into a
// shared output buffer, and written at once. Only what is left over (half a request, a response
// the socket would not take) is copied into the connection's own buffers, which are freed again
// as soon as they empty. A file being sent costs its descriptor and an offset, never a buffer.
#pragma once

#include "app.hpp"
#include "buffer.hpp"
#include "deadline_list.hpp"
#include "http_parser.hpp"
#include "offload.hpp"
#include "poller.hpp"
#include "send_file.hpp"
#include "status.hpp"
#include "sys.hpp"
#include "transport.hpp"

#include <string>

namespace one {

enum class Waiting : uint8_t {
    Request,   // for bytes of a request: watch for readable
    Writable,  // for room in the socket's send buffer: watch for writable, stop reading
    Job,       // for work handed to chapter 08's pool (or 09's backends): its result wakes the loop (see read_ahead)
    Linger,    // after an error response: for the client to stop sending, so closing sends no reset
    Nothing,   // done: close it
};

struct Connection {
    Fd fd;
    uint32_t generation = 0;        // tells this connection from an earlier one that had the same fd
    Waiting waiting = Waiting::Request;
    Interest watched;               // what the poller was last told, so unchanged interest costs no syscall
    bool peer_done = false;         // the client shut its sending side (read returned 0)
    bool more_to_read = false;      // edge-triggered: stopped at its share of a turn, not at EAGAIN: come back to it
    bool resume_queued = false;     // ...and the loop has it on its list for that, once
    bool close_after_write = false;  // the last response said Connection: close
    bool linger_after_write = false;  // ...and unread bytes may follow, or it was an error
    bool answer_pending = false;    // chapter 08: a request is being answered off the loop; the ones after it wait
    bool warming = false;           // chapter 08: the file's next stretch is being read into the page cache
    bool continue_sent = false;     // "100 Continue" went out for the request being read (Expect: 100-continue)
    bool cut_short = false;         // a response broke off: close without TLS's close_notify, so the client can tell
    http::RequestParser parser;
    Buffer in;                      // the start of a request that has not all arrived; empty between requests
    std::string out;                // response bytes the socket has not taken yet
    size_t out_sent = 0;            // how much of `out` has been written
    http::FileBody file;            // a file range to send after `out` (chapter 07); answering waits for it
    std::unique_ptr<http::BodyStream> stream;  // chapter 09: a body still arriving, sent after `out`; the same
    DeadlineHook timer;             // in the idle, header or linger list of the server
    status::State counted = status::State::None;  // where /status counts it (see state_of)
    std::unique_ptr<Transport> transport;  // chapter 11: a TLS session between the bytes and the socket; null: plain
};

// What every connection on one loop shares: the application, limits, and scratch space.
struct LoopShared {
    const App& app;
    size_t max_body;
    bool edge_triggered;            // read and write until EAGAIN, since the poller will not repeat itself
    bool closing_all = false;       // stopping gracefully: every response says Connection: close
    std::string read_scratch;       // every read lands here first
    std::string out_scratch;        // responses are built here, and only what is not written is kept
    http::Request request;          // the request being served (only one at a time on a loop)
    FileOutput files;               // how file bodies go out: sendfile, or --copy through a shared buffer
    Offload* offload = nullptr;     // chapter 08: where what would make the loop wait goes; null before
    bool offload_everything = false;  // chapter 09: every request goes there (a proxy answers nothing itself)
};

// The socket is readable: read, serve every complete request, write the answers. Level-triggered,
// one read: the poller reports the socket again while bytes are left. Edge-triggered, it reads
// until EAGAIN, but at most kReadsPerTurn times: a client that keeps sending must not keep the
// loop from everyone else. It then sets more_to_read, and the loop calls again next turn.
inline constexpr int kReadsPerTurn = 4;
// The socket's bytes, or (chapter 11) what passes through the connection's TLS session.
IoResult read_from(Connection& c, std::span<char> into);
IoResult write_to(Connection& c, std::span<const char> bytes);

void on_readable(Connection& c, LoopShared& shared);
// The socket is writable: write what is queued (bytes, then a file range); once it is all gone, go on serving.
void on_writable(Connection& c, LoopShared& shared);
// Chapter 08: the job handed off for this connection is done: send `answer` (or, after a file's
// stretch was warmed, nothing new) and go on serving. Chapter 09: or its stream has more to send.
void on_job_done(Connection& c, LoopShared& shared, std::optional<http::Response> answer);
// Answers the complete requests at the front of `bytes` into `sink`, stopping at the output
// high-water mark, at a response that closes the connection, at one whose body is a file (its head
// is the last thing in `sink`), or at one answered off the loop: the responses after those wait
// until the file is sent or the answer has come, so that they stay in order. Returns the bytes
// used. The other calls here use it; chapter 10's ring, which does its own I/O, uses it alone.
size_t answer_requests(Connection& c, LoopShared& shared, std::span<char> bytes, std::string& sink);
// What the poller should watch for, given what the connection is waiting for.
Interest interest_of(const Connection& c);
// What /status counts it as: reading a request (some of it has come), writing (an answer is
// going out or being made), idle (between requests) or closing.
status::State state_of(const Connection& c);
// With --narrate: what the connection waits for now that it is in state `now`.
void narrate_state(const Connection& c, status::State now, Clock::duration idle_timeout);

// Which of a server's three deadline lists a connection's timer ran out in.
enum class Deadline : uint8_t { Idle, Header, Linger };
// The connection's deadline has passed: says so (--narrate) and, mid-request, answers 408 (through
// its TLS session if it has one). The caller closes it next. Shared by the epoll loop and the ring.
void deadline_passed(Connection& c, Deadline which);

// Above this much unwritten output a connection stops reading (and so stops parsing requests) until
// the client reads: a client that sends requests but never reads responses cannot make us buffer
// without bound; TCP flow control pushes back on it instead.
inline constexpr size_t kOutputHighWater = 256 * 1024;

}  // namespace one
