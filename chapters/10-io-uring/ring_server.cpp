// ring_server: accept, receive, answer, send, time out and close, all as completions of one ring.
#include "ring_server.hpp"

#include "common/narrate.hpp"
#include "common/refuse.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

namespace one::uring {
namespace {

constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kFileBlock = 64 * 1024;  // a file goes out this much at a time: read it, then send it
// While a send is in flight, what the client sends meanwhile waits in its buffer; beyond this
// much the receive is cancelled, so a client that sends and never reads cannot make us hold more.
constexpr size_t kInputWhileSending = 64 * 1024;
constexpr size_t kSpareOutputs = 64;  // emptied output buffers kept for the next answers: no malloc per response
constexpr size_t kSpareLargest = 1 << 20;  // ...unless one grew beyond this: then it is freed
constexpr size_t kSparePipes = 64;  // --splice: emptied pipes kept for the next files (two descriptors each)

}  // namespace

// One client. Its operations in the kernel point into it (the bytes a send is sending, a file
// block being read), so it is freed only once the kernel has returned every one: in_flight == 0.
// A client holds at most a receive, a cancel and a linked pair of splices (or a send, or a
// file read, and a poll), so a byte counts them.
struct RingServer::Client {
    Connection c;                 // the request cycle, as in every chapter: parser, unparsed bytes, answers
    uint8_t in_flight = 0;        // operations the kernel holds for this client
    uint8_t sending = 0;          // sends, file reads or splices in flight: c.out must not move
    bool receive_armed = false;   // a multishot receive is armed (until a completion without F_MORE)
    bool receive_cancelled = false;  // ...and we asked the kernel to end it
    bool armed_before = false;
    bool closing = false;         // waiting for the kernel to return its operations, then closed
};

void add_ring_options(CLI::App& cli, RingOptions& o) {
    auto power_of_two = [](const std::string& text) {
        unsigned long n = std::stoul(text);  // CLI::Range, checked first, has made sure it is a number
        return n && (n & (n - 1)) == 0 ? std::string() : std::string("must be a power of two");
    };
    cli.add_option("--ring-entries", o.entries, "submission queue slots of each worker's ring")
        ->capture_default_str()
        ->check(CLI::Range(8u, 32768u));
    cli.add_option("--ring-buffers", o.buffers, "provided receive buffers, shared by all connections (a power of two)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 32768u))
        ->check(power_of_two);
    cli.add_option("--ring-buffer-size", o.buffer_size, "bytes in each receive buffer")
        ->capture_default_str()
        ->check(CLI::Range(64u, 1u << 20));
    cli.add_option("--batch", o.batch, "a turn sleeps until this many completions are ready (or --batch-delay-us): 1 wakes on the first")
        ->capture_default_str()
        ->check(CLI::Range(1u, 1024u));
    cli.add_option("--batch-delay-us", o.batch_delay_us, "with --batch: the longest a turn waits for the rest of its batch")
        ->capture_default_str()
        ->check(CLI::Range(1u, 1000000u));
    cli.add_flag("--splice", o.splice, "send files by splicing them through a pipe (file -> pipe -> socket) instead of reading and sending each block");
}

RingServer::RingServer(Fd listener, Ring& ring, const App& app, const ServerOptions& options, const EventOptions& events,
                       const RingOptions& rings)
    : ring_(ring),
      buffers_(ring, 0, rings.buffers, rings.buffer_size),
      listener_(std::move(listener)),
      shared_{app, options.max_body, false, false, {}, {}, {}, {}},
      max_body_(options.max_body),
      batch_(rings.batch),
      batch_delay_(std::chrono::microseconds(rings.batch_delay_us)),
      splice_(rings.splice),
      idle_(std::chrono::milliseconds(options.idle_timeout_ms)),
      header_(std::chrono::milliseconds(events.header_timeout_ms)),
      linger_(kLingerTime) {
    max_connections_ = connection_limit(events);
    set_nonblocking(listener_.get());  // for the clients taken by hand when stopping
    turn_started_ = Clock::now();
}

RingServer::~RingServer() = default;

uint64_t RingServer::tag(Op op, int fd, uint32_t generation) {
    return (uint64_t{static_cast<uint8_t>(op)} << 56) | (uint64_t{static_cast<uint32_t>(fd) & 0xffffff} << 32) | generation;
}

io_uring_sqe* RingServer::queue(Op op, int fd, uint32_t generation) {
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_sqe_set_data64(sqe, tag(op, fd, generation));
    return sqe;
}

RingServer::Client* RingServer::find(int fd, uint32_t generation) {
    Client* k = static_cast<size_t>(fd) < by_fd_.size() ? by_fd_[fd].get() : nullptr;
    return k && k->c.generation == generation ? k : nullptr;
}

void RingServer::run() {
    arm_accept();
    while (!(stopping_ && (count_ == 0 || Clock::now() >= give_up_at_))) run_once();
    if (count_ > 0) {
        log_line("the stop's deadline has passed: closing " + std::to_string(count_) + " connections still open");
        for (auto& k : by_fd_)
            if (k) close_client(*k);
        while (count_ > 0) run_once();  // the kernel returns their operations (cancelled) at once
    }
    log_line("ring: " + std::to_string(counters_.rearmed) + " multishot receives armed again, " +
             std::to_string(counters_.out_of_buffers) + " of them after the buffers ran out (ENOBUFS)");
    if (splice_)
        log_line("ring: " + std::to_string(counters_.spliced_blocks) + " file blocks spliced through pipes, " +
                 std::to_string(counters_.socket_full) + " splices found the socket full and waited for room");
}

void RingServer::run_once() {
    // The operations queued since the last turn go to the kernel in the same call that waits.
    // prep_* only fill the queue's memory: this is the turn's one system call.
    Clock::duration wait = time_to_next_deadline(Clock::now());
    unsigned count = 1;
    if (batch_ > 1 && count_ > 0) {  // worth waiting for more only with clients that can send them
        count = batch_;
        wait = std::min(wait, batch_delay_);
    }
    unsigned queued = narrate::on ? io_uring_sq_ready(ring_.raw()) : 0;
    ring_.submit_and_wait(count, wait);
    turn_started_ = Clock::now();
    status::add(status::mine().turns);
    if (narrate::on) narrate::line("io_uring_enter: submitted " + std::to_string(queued) + ", woke with " + std::to_string(io_uring_cq_ready(ring_.raw())) + " completion(s)");
    ring_.drain([this](const io_uring_cqe& cqe) { on_completion(cqe); });
    expire_deadlines(Clock::now());
}

void RingServer::on_completion(const io_uring_cqe& cqe) {
    status::add(status::mine().events);
    uint64_t data = io_uring_cqe_get_data64(&cqe);
    auto op = static_cast<Op>(data >> 56);
    int fd = static_cast<int>((data >> 32) & 0xffffff);
    auto generation = static_cast<uint32_t>(data);
    switch (op) {
    case Op::Accept: return on_accept(cqe);
    case Op::AcceptPause:
        accept_paused_ = false;
        if (!stopping_ && !accept_armed_) arm_accept();
        return;
    case Op::Waker:
        for (auto& w : wakers_)
            if (w->fd.get() == fd && cqe.res != -ECANCELED) {
                io_uring_prep_read(queue(Op::Waker, fd, 0), fd, &w->count, sizeof w->count, 0);  // for the next one
                w->on_wake();
            }
        return;
    case Op::Cancel: return;  // its result is in the completions of what it cancelled
    default: break;
    }
    Client* k = find(fd, generation);
    if (!k) return;  // cannot happen: a client lives until the kernel has returned its every operation
    bool ended = !(cqe.flags & IORING_CQE_F_MORE);
    if (op == Op::Receive) {
        if (ended) {
            --k->in_flight;
            k->receive_armed = false;
        }
        on_receive(*k, cqe);
    } else {
        --k->in_flight;
        --k->sending;
        if (op == Op::Send) on_sent(*k, cqe.res);
        else if (op == Op::FileRead) on_file_read(*k, cqe.res);
        else on_spliced(*k, op, cqe.res);
    }
    // The handler may have closed and freed the client (nothing in flight); look it up again.
    if ((k = find(fd, generation)) && k->closing && k->in_flight == 0) forget(*k);
}

// ---- accepting --------------------------------------------------------------------------------

// One multishot accept: armed once, it completes once per client, until an error ends it.
void RingServer::arm_accept() {
    io_uring_prep_multishot_accept(queue(Op::Accept, listener_.get(), 0), listener_.get(), nullptr, nullptr,
                                   SOCK_NONBLOCK | SOCK_CLOEXEC);
    accept_armed_ = true;
}

void RingServer::on_accept(const io_uring_cqe& cqe) {
    if (!(cqe.flags & IORING_CQE_F_MORE)) accept_armed_ = false;
    if (cqe.res >= 0) {
        Fd client(cqe.res);
        status::add(status::mine().accepted);
        if (narrate::on) narrate::line("accept -> fd " + std::to_string(cqe.res) + " (" + peer_address(cqe.res) + "), a multishot accept's completion");
        out_of_fds_.success();
        ++counters_.accepted;
        if (count_ >= max_connections_) {
            at_capacity_.failure(std::to_string(count_) + " open");
            refuse_busy(std::move(client), status::Refusal::NoRoomMaxConnections);
        } else {
            at_capacity_.success();
            add_client(std::move(client));
        }
    } else if (cqe.res == -ECANCELED) {
        if (stopping_) {
            take_waiting_clients();
            listener_.reset();
        }
        return;
    } else {
        switch (grade_accept_error(-cqe.res)) {
        case AcceptError::OutOfFds:
            status::count_refusal(status::Refusal::AcceptOutOfDescriptors);
            out_of_fds_.failure(std::strerror(-cqe.res));
            return pause_accepting();
        case AcceptError::Fatal: throw_errno("accept (io_uring)", -cqe.res);
        default: break;  // that one client is gone
        }
    }
    if (!accept_armed_ && !accept_paused_ && !stopping_) arm_accept();
}

// Out of descriptors, an armed accept would complete with EMFILE again at once, forever. So it is
// cancelled, and armed again when a 100 ms timeout of the ring's completes; the clients wait in
// the accept queue meanwhile.
void RingServer::pause_accepting() {
    if (accept_paused_) return;
    if (accept_armed_) io_uring_prep_cancel64(queue(Op::Cancel, 0, 0), tag(Op::Accept, listener_.get(), 0), 0);
    accept_paused_ = true;
    io_uring_prep_timeout(queue(Op::AcceptPause, 0, 0), &accept_pause_, 0, 0);
}

// Clients the kernel has already accepted for us would be reset when the listener closes: take
// them first, and serve them like the rest (one answer, then Connection: close).
void RingServer::take_waiting_clients() {
    for (;;) {
        int err = 0;
        Fd client = accept_client(listener_.get(), err, true);
        if (!client) {
            if (grade_accept_error(err) == AcceptError::Retry) continue;
            return;
        }
        ++counters_.accepted;
        if (count_ >= max_connections_) refuse_busy(std::move(client), status::Refusal::NoRoomMaxConnections);
        else add_client(std::move(client));
    }
}

void RingServer::add_client(Fd client) {
    // What an idle connection costs is the course's measure, and a ring client should cost no
    // more than chapter 05's Connection. malloc (glibc, 64-bit) hands out 16-byte steps, 8 bytes
    // of them its own: a 304-byte Connection takes a 320-byte chunk, and so does anything up to
    // 312. So the ring's own fields are bytes, and a file's pipe (--splice) is kept apart.
    constexpr auto chunk = [](size_t bytes) { return (bytes + 8 + 15) & ~size_t{15}; };
    static_assert(chunk(sizeof(Client)) == chunk(sizeof(Connection)), "a ring client would take a larger malloc chunk than 05's Connection");
    int fd = client.get();
    auto k = std::make_unique<Client>();
    set_nodelay(fd);
    k->c.generation = next_generation_++;
    k->c.fd = std::move(client);
    k->c.parser = http::RequestParser(max_body_);
    k->c.timer.fd = fd;
    idle_.arm(k->c.timer, turn_started_);
    status::move(k->c.counted, status::State::Idle);
    if (narrate::on) narrate_state(k->c, status::State::Idle, idle_.timeout);
    arm_receive(*k);
    if (by_fd_.size() <= static_cast<size_t>(fd)) by_fd_.resize(static_cast<size_t>(fd) + 1);
    by_fd_[fd] = std::move(k);
    ++count_;
}

// ---- receiving --------------------------------------------------------------------------------

// A multishot receive: armed once, it completes each time bytes arrive, each time in whichever
// provided buffer is next. No buffer is tied up while the client is quiet.
void RingServer::arm_receive(Client& k) {
    io_uring_sqe* sqe = queue(Op::Receive, k.c.fd.get(), k.c.generation);
    io_uring_prep_recv_multishot(sqe, k.c.fd.get(), nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = buffers_.group();
    ++k.in_flight;
    k.receive_armed = true;
    k.receive_cancelled = false;
    if (k.armed_before) ++counters_.rearmed;
    k.armed_before = true;
    if (narrate::on) narrate::line("fd " + std::to_string(k.c.fd.get()) + ": queues a multishot receive into the provided buffers");
}

void RingServer::stop_receiving(Client& k) {
    io_uring_prep_cancel64(queue(Op::Cancel, k.c.fd.get(), k.c.generation), tag(Op::Receive, k.c.fd.get(), k.c.generation), 0);
    k.receive_cancelled = true;
}

void RingServer::on_receive(Client& k, const io_uring_cqe& cqe) {
    if (cqe.res > 0) {
        status::add(status::mine().bytes_in, static_cast<uint64_t>(cqe.res));
        unsigned id = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
        if (narrate::on)
            narrate::line("fd " + std::to_string(k.c.fd.get()) + ": read " + std::to_string(cqe.res) +
                          " bytes, a receive's completion, in provided buffer " + std::to_string(id));
        if (!k.closing) serve(k, buffers_.buffer(id, static_cast<size_t>(cqe.res)));
        buffers_.give_back(id);  // parsed, answered, or copied: the kernel may fill it again
    } else if (cqe.res == 0) {
        if (narrate::on) narrate::line("fd " + std::to_string(k.c.fd.get()) + ": read 0 bytes: the client has closed its side");
        k.c.peer_done = true;
    } else if (cqe.res == -ENOBUFS) {
        // Every buffer was in use when bytes came. They wait in the socket; settle() arms the
        // receive again, and the kernel sees it after this turn has given all the buffers back.
        ++counters_.out_of_buffers;
    } else if (cqe.res != -ECANCELED) {
        return close_client(k);  // ECONNRESET and friends; with nothing else in flight, k is gone
    }
    settle(k);
}

// New bytes from the client. If nothing is being sent and nothing is waiting, they are answered
// straight from the provided buffer (the common case: no copy); otherwise they join the
// connection's own buffer, to be answered when the send in flight is done, in order.
void RingServer::serve(Client& k, std::span<char> bytes) {
    Connection& c = k.c;
    if (c.waiting == Waiting::Linger || c.waiting == Waiting::Nothing) return;  // thrown away
    if (c.close_after_write) {
        c.linger_after_write = true;  // bytes after the last answer: linger, so closing sends no reset
        return;
    }
    if (k.sending || !c.in.empty() || c.file) {
        c.in.append(bytes);
        return;
    }
    borrow_output(c);
    size_t used = answer_requests(c, shared_, bytes, c.out);
    if (used < bytes.size()) c.in.append(bytes.subspan(used));
}

// ---- sending ----------------------------------------------------------------------------------

// Answers are built in the client's own c.out, since the kernel sends from it after we return.
// Once sent, the buffer goes back to a few spares, so an idle client holds none and the next
// answer costs no allocation.
void RingServer::borrow_output(Connection& c) {
    if (c.out.capacity() > std::string().capacity() || spare_.empty()) return;
    c.out = std::move(spare_.back());
    spare_.pop_back();
}

void RingServer::return_output(Connection& c) {
    if (c.out.capacity() <= std::string().capacity()) return;
    if (spare_.size() < kSpareOutputs && c.out.capacity() <= kSpareLargest) spare_.push_back(std::move(c.out));
    c.out = std::string();
}

void RingServer::answer_buffered(Client& k) {
    Connection& c = k.c;
    if (c.in.empty() || c.close_after_write || c.file) return;
    c.in.consume(answer_requests(c, shared_, c.in.readable(), c.out));
}

// Nothing in flight: send what is left of c.out, or read the file's next block into it. The
// kernel reads (or writes) c.out until the completion comes, so it must not move meanwhile.
void RingServer::send_next(Client& k) {
    Connection& c = k.c;
    int fd = c.fd.get();
    if (c.out_sent < c.out.size()) {
        if (narrate::on) narrate::line("fd " + std::to_string(fd) + ": queues a send of " + std::to_string(c.out.size() - c.out_sent) + " bytes");
        io_uring_prep_send(queue(Op::Send, fd, c.generation), fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
    } else if (c.file && splice_ && splice_next(k)) {
        return;
    } else if (c.file && c.file.length > 0) {
        // There is no sendfile operation: io_uring's operations are the kernel's non-blocking
        // I/O paths, and sendfile has none. Read a block into our memory, then send it.
        c.out.resize(std::min(kFileBlock, c.file.length));
        c.out_sent = 0;
        io_uring_prep_read(queue(Op::FileRead, fd, c.generation), c.file.fd.get(), c.out.data(),
                           static_cast<unsigned>(c.out.size()), static_cast<uint64_t>(c.file.offset));
    } else {
        return;
    }
    ++k.in_flight;
    ++k.sending;
}

void RingServer::on_sent(Client& k, int result) {
    if (result < 0) return close_client(k);  // EPIPE, ECONNRESET, or cancelled by a close
    status::add(status::mine().bytes_out, static_cast<uint64_t>(result));
    if (narrate::on) narrate::line("fd " + std::to_string(k.c.fd.get()) + ": write " + std::to_string(result) + " bytes, a send's completion");
    k.c.out_sent += static_cast<size_t>(result);
    settle(k);
}

void RingServer::on_file_read(Client& k, int result) {
    Connection& c = k.c;
    if (result <= 0) return close_client(k);  // 0: the file shrank under us; the body cannot be finished
    c.out.resize(static_cast<size_t>(result));
    c.file.offset += result;
    c.file.length -= static_cast<size_t>(result);
    settle(k);
}

// After every completion: answer what can be answered, send what is ready, decide whether to keep
// receiving, and move the client's deadline. The ring's version of connection.cpp's settle().
void RingServer::settle(Client& k) {
    Connection& c = k.c;
    if (k.closing) return;
    if (!k.sending) {
        if (c.out_sent == c.out.size()) {  // all sent: answer what has waited meanwhile
            if (c.file && c.file.length == 0 && in_pipe(k) == 0) done_with_file(k);  // its last block is gone
            c.out.clear();
            c.out_sent = 0;
            if (!c.file && !c.in.empty()) {
                borrow_output(c);
                answer_buffered(k);
            }
        }
        send_next(k);
        if (!k.sending) return_output(c);
    }
    if (!k.sending) {  // everything answered is sent
        if (c.close_after_write && !c.linger_after_write) return close_client(k);
        if (c.close_after_write && c.waiting != Waiting::Linger) {
            ::shutdown(c.fd.get(), SHUT_WR);  // the client sees our end after the error response
            c.waiting = Waiting::Linger;
        }
        if (c.peer_done) return close_client(k);  // it has said all it will say, and has every answer
        if (c.waiting != Waiting::Linger) {
            c.waiting = Waiting::Request;
            c.in.release();  // no-op unless empty: an idle connection holds no buffer
        }
    } else if (c.waiting != Waiting::Linger) {
        c.waiting = Waiting::Writable;
    }
    status::State now = state_of(c);
    if (narrate::on && now != c.counted) narrate_state(c, now, idle_.timeout);
    status::move(c.counted, now);
    bool want_bytes = !c.peer_done && (c.waiting != Waiting::Writable || c.in.size() < kInputWhileSending);
    if (want_bytes && !k.receive_armed) arm_receive(k);
    else if (!want_bytes && k.receive_armed && !k.receive_cancelled) stop_receiving(k);

    if (c.waiting == Waiting::Linger) {
        if (c.timer.list != &linger_) linger_.arm(c.timer, turn_started_);
    } else if (c.waiting == Waiting::Request && c.parser.started() && !c.parser.head_done()) {
        if (c.timer.list != &header_) header_.arm(c.timer, turn_started_);  // from the first byte
    } else {
        idle_.arm(c.timer, turn_started_);
    }
}

// ---- files through a pipe (--splice) -----------------------------------------------------------

// splice moves page references, not bytes: file -> pipe puts the page cache's own pages in the
// pipe, pipe -> socket hands them to TCP, and no byte of the file is copied to us. It needs a
// pipe because one end of every splice must be one. Returns false when the file must go the
// other way (no descriptors left for a pipe).
bool RingServer::splice_next(Client& k) {
    Connection& c = k.c;
    int fd = c.fd.get();
    Splicing& s = splicing_[fd];
    if (!s.pipe) {
        if (!spare_pipes_.empty()) {
            s.pipe = std::move(spare_pipes_.back());
            spare_pipes_.pop_back();
        } else {
            int ends[2];
            if (::pipe2(ends, O_CLOEXEC) != 0) {  // EMFILE: this file is read and sent instead
                splicing_.erase(fd);
                return false;
            }
            s.pipe = Pipe{Fd(ends[0]), Fd(ends[1])};
        }
    }
    if (s.in_pipe == 0) {
        // The pipe is empty, so filling it cannot block: a splice into a pipe without room for
        // all of a block moves what fits (a pipe has 16 page slots, 64 KiB when pages are whole).
        // The two splices are linked: the kernel starts the second when the first is done,
        // without a turn of our loop in between. A short first one breaks the link (the second
        // completes with ECANCELED), and the next turn sends what did reach the pipe.
        auto block = static_cast<unsigned>(std::min(kFileBlock, c.file.length));
        ring_.reserve(2);  // both in one submission: a link does not reach across two
        io_uring_sqe* in = queue(Op::SpliceIn, fd, c.generation);
        io_uring_prep_splice(in, c.file.fd.get(), c.file.offset, s.pipe.write.get(), -1, block, 0);
        in->flags |= IOSQE_IO_LINK;
        io_uring_prep_splice(queue(Op::SpliceOut, fd, c.generation), s.pipe.read.get(), -1, fd, -1, block, 0);
        k.in_flight += 2;
        k.sending += 2;
    } else {
        io_uring_prep_splice(queue(Op::SpliceOut, fd, c.generation), s.pipe.read.get(), -1, fd, -1,
                             static_cast<unsigned>(s.in_pipe), 0);
        ++k.in_flight;
        ++k.sending;
    }
    return true;
}

void RingServer::on_spliced(Client& k, Op op, int result) {
    Connection& c = k.c;
    // Closing: a splice that was already running (a cancel does not stop it) or the tail of a
    // link, which a cancel by the socket's fd cannot reach, may still come back with EAGAIN; a
    // poll armed for it now would never be cancelled, and the client never freed.
    if (k.closing) return;
    if (op == Op::SpliceIn && result > 0) {
        splicing_[c.fd.get()].in_pipe += static_cast<size_t>(result);
        c.file.offset += result;
        c.file.length -= static_cast<size_t>(result);
        ++counters_.spliced_blocks;
    } else if (op == Op::SpliceOut && result > 0) {
        status::add(status::mine().bytes_out, static_cast<uint64_t>(result));
        splicing_[c.fd.get()].in_pipe -= static_cast<size_t>(result);
    } else if (op == Op::SpliceOut && result == -EAGAIN) {
        // The socket is non-blocking and its buffer is full, and a splice, unlike a send, does not
        // wait for room: a one-shot poll does, and the next splice follows it.
        ++counters_.socket_full;
        io_uring_prep_poll_add(queue(Op::Writable, c.fd.get(), c.generation), c.fd.get(), POLLOUT);
        ++k.in_flight;
        ++k.sending;
    } else if (op == Op::Writable && result >= 0) {
        // room again: settle() below splices the rest
    } else if (op == Op::SpliceIn && result == 0) {
        return close_client(k);  // the file shrank under us: the body cannot be finished
    } else if (result != -ECANCELED) {
        return close_client(k);  // EPIPE, ECONNRESET, an I/O error on the file
    }
    // ECANCELED: the link broke at a short first splice, or close_client() cancelled it.
    if (!k.sending) settle(k);  // after the last of a linked pair
}

// A file's last byte has left the pipe: close the file, and keep the (empty) pipe for the next.
void RingServer::done_with_file(Client& k) {
    k.c.file = {};
    auto it = splicing_.find(k.c.fd.get());
    if (it == splicing_.end()) return;
    if (spare_pipes_.size() < kSparePipes) spare_pipes_.push_back(std::move(it->second.pipe));
    splicing_.erase(it);
}

// The bytes spliced from a client's file into its pipe and not yet on to the socket.
size_t RingServer::in_pipe(const Client& k) const {
    auto it = splicing_.find(k.c.fd.get());
    return it == splicing_.end() ? 0 : it->second.in_pipe;
}

// ---- closing ----------------------------------------------------------------------------------

// The kernel may still hold operations that point into this client: cancel them all, and free
// the client when the last one has come back (on_completion). Closing the descriptor first
// would not stop them: a pending operation holds its own reference to the socket. A splice
// already running on one of io_uring's worker threads finishes on its own, and on_spliced()
// starts nothing new for a closing client, so every operation still comes back.
// With nothing in flight the client is freed here and now: a caller must not touch it afterwards.
void RingServer::close_client(Client& k) {
    if (k.closing) return;
    k.closing = true;
    k.c.waiting = Waiting::Nothing;
    status::move(k.c.counted, status::State::Closing);
    DeadlineList::disarm(k.c.timer);
    if (narrate::on && k.in_flight > 0)
        narrate::line("fd " + std::to_string(k.c.fd.get()) + ": closing, cancels its " + std::to_string(k.in_flight) + " operation(s) in the kernel");
    if (k.in_flight > 0)
        io_uring_prep_cancel_fd(queue(Op::Cancel, k.c.fd.get(), k.c.generation), k.c.fd.get(), IORING_ASYNC_CANCEL_ALL);
    else forget(k);
}

void RingServer::forget(Client& k) {
    int fd = k.c.fd.get();
    --count_;
    status::move(k.c.counted, status::State::None);
    if (narrate::on) narrate::line("fd " + std::to_string(fd) + " closed");
    splicing_.erase(fd);  // a pipe with a file's bytes still in it: closed, the bytes with it
    by_fd_[fd].reset();  // closes the descriptor
}

void RingServer::expire_deadlines(Clock::time_point now) {
    for (DeadlineList* list : {&idle_, &header_, &linger_}) {
        while (DeadlineHook* hook = list->expired(now)) {
            Client& k = *by_fd_[hook->fd];
            Connection& c = k.c;
            deadline_passed(c, list == &idle_ ? Deadline::Idle : list == &header_ ? Deadline::Header : Deadline::Linger);
            close_client(k);  // disarms the hook
        }
    }
}

Clock::duration RingServer::time_to_next_deadline(Clock::time_point now) const {
    Clock::time_point next = Clock::time_point::max();
    for (const DeadlineList* list : {&idle_, &header_, &linger_})
        if (list->head) next = std::min(next, list->head->deadline);
    if (stopping_) next = std::min(next, give_up_at_);
    if (next == Clock::time_point::max()) return Clock::duration::max();
    return std::max(next - now, Clock::duration::zero());
}

// ---- waking and stopping ----------------------------------------------------------------------

int RingServer::make_waker(std::function<void()> on_wake) {
    auto w = std::make_unique<Waker>();
    w->fd = Fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!w->fd) throw_errno("eventfd");
    w->on_wake = std::move(on_wake);
    int fd = w->fd.get();
    io_uring_prep_read(queue(Op::Waker, fd, 0), fd, &w->count, sizeof w->count, 0);
    wakers_.push_back(std::move(w));
    return fd;
}

// As EventServer's: stop accepting, answer each connection's next request with Connection: close,
// and close the ones that stay quiet for a second.
void RingServer::stop_gracefully(Clock::duration give_up_after) {
    if (stopping_) return;
    stopping_ = true;
    if (give_up_after != Clock::duration::max()) give_up_at_ = Clock::now() + give_up_after;
    shared_.closing_all = true;
    // The accept's cancelled completion takes the clients already waiting, then closes the listener.
    if (accept_armed_) {
        io_uring_prep_cancel64(queue(Op::Cancel, 0, 0), tag(Op::Accept, listener_.get(), 0), 0);
    } else {
        take_waiting_clients();
        listener_.reset();
    }
    idle_.timeout = std::min<Clock::duration>(idle_.timeout, std::chrono::seconds(1));
    Clock::time_point now = Clock::now();
    for (auto& k : by_fd_)
        if (k && k->c.timer.list == &idle_) idle_.arm(k->c.timer, now);
}

}  // namespace one::uring
