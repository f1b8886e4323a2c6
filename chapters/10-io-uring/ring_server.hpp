// ring_server: chapter 05's loop, rebuilt on completions instead of readiness.
//
// epoll says "fd 7 is readable", and the loop then makes the system calls itself: read, write,
// epoll_ctl. A ring is told the operations up front and says when they are done:
//
//   for (;;) {
//       one io_uring_enter: submit what this turn queued, wait for completions or the next deadline
//       for each completion:
//           accept   -> a new client: arm a multishot receive on it (armed once, completes many times)
//           receive  -> bytes, in a buffer the kernel picked: parse, answer, give the buffer back,
//                       and queue a send of the answers
//           send     -> the bytes are gone: queue the next ones, or the file's next block
//       close connections whose deadline has passed
//   }
//
// What a request costs in system calls is then a share of one io_uring_enter: the receive, the
// send and the wait are all in it, for every connection that had something to do this turn.
//
// The request cycle itself (parse, answer, keep-alive, pipelining, errors) is the same as every
// other chapter's: common/connection.cpp's answer_requests. Only the I/O around it is new.
#pragma once

#include "ring.hpp"

#include "common/app.hpp"
#include "common/connection.hpp"
#include "common/deadline_list.hpp"
#include "common/event_server.hpp"
#include "common/log.hpp"
#include "common/server_options.hpp"

#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

namespace one::uring {

struct RingOptions {
    unsigned entries = 1024;      // submission slots: what one turn may queue before it must submit
    unsigned buffers = 1024;      // provided buffers (a power of two), shared by every connection
    unsigned buffer_size = 4096;  // bytes in each: one receive fills at most one
    // A turn sleeps until `batch` completions are ready, or `batch_delay_us` has passed: fewer
    // wake-ups under load, for a latency of up to that delay. 1: wake on the first, as epoll does.
    unsigned batch = 1;
    unsigned batch_delay_us = 50;
    // Files go out through a pipe with two linked splices (file -> pipe -> socket), their pages
    // never copied to us. false: each block is read into our memory and sent, as a copy.
    bool splice = false;
};

// Adds --ring-entries, --ring-buffers, --ring-buffer-size, --batch, --batch-delay-us and --splice to `cli`.
void add_ring_options(CLI::App& cli, RingOptions& options);

class RingServer {
public:
    RingServer(Fd listener, Ring& ring, const App& app, const ServerOptions& options, const EventOptions& events,
               const RingOptions& rings);
    ~RingServer();

    void run();  // until stopped and every connection is done
    size_t connections() const { return count_; }

    // As EventServer's: a descriptor that wakes the loop and runs `on_wake` on it when written.
    int make_waker(std::function<void()> on_wake);
    void stop_gracefully(Clock::duration give_up_after);

    struct Counters {
        size_t accepted = 0;
        size_t empty_wakeups = 0;  // always 0: a multishot accept completes only with a client
        size_t out_of_buffers = 0;  // receives that ended with ENOBUFS, and were armed again
        size_t rearmed = 0;         // multishot receives armed again after they ended
        size_t spliced_blocks = 0;  // --splice: file blocks moved into a pipe
        size_t socket_full = 0;     // --splice: splices to a full socket, retried once it had room
    };
    const Counters& counters() const { return counters_; }

private:
    // What an operation was, kept in its user_data with the connection's fd and generation.
    enum class Op : uint8_t { Accept, AcceptPause, Waker, Receive, Send, FileRead, SpliceIn, SpliceOut, Writable, Cancel };
    struct Client;
    struct Pipe {
        Fd read, write;
        explicit operator bool() const { return static_cast<bool>(read); }
    };

    void run_once();
    void on_completion(const io_uring_cqe& cqe);
    void on_accept(const io_uring_cqe& cqe);
    void on_receive(Client& k, const io_uring_cqe& cqe);
    void on_sent(Client& k, int result);
    void on_file_read(Client& k, int result);
    void on_spliced(Client& k, Op op, int result);

    void arm_accept();
    void pause_accepting();
    void take_waiting_clients();
    void add_client(Fd client);
    void arm_receive(Client& k);
    void stop_receiving(Client& k);
    void serve(Client& k, std::span<char> bytes);
    void answer_buffered(Client& k);
    void borrow_output(Connection& c);
    void return_output(Connection& c);
    void send_next(Client& k);
    bool splice_next(Client& k);
    void done_with_file(Client& k);
    size_t in_pipe(const Client& k) const;
    void settle(Client& k);
    void close_client(Client& k);
    void forget(Client& k);
    void expire_deadlines(Clock::time_point now);
    Clock::duration time_to_next_deadline(Clock::time_point now) const;

    static uint64_t tag(Op op, int fd, uint32_t generation);
    Client* find(int fd, uint32_t generation);
    io_uring_sqe* queue(Op op, int fd, uint32_t generation);

    Ring& ring_;
    BufferRing buffers_;
    Fd listener_;
    bool accept_armed_ = false;
    bool accept_paused_ = false;
    __kernel_timespec accept_pause_{0, 100 * 1000 * 1000};  // read by the kernel when the timeout is submitted
    bool stopping_ = false;
    Clock::time_point give_up_at_ = Clock::time_point::max();
    Counters counters_;
    LoopShared shared_;
    size_t max_body_;
    size_t max_connections_;
    unsigned batch_;
    Clock::duration batch_delay_;
    std::vector<std::unique_ptr<Client>> by_fd_;
    std::vector<std::string> spare_;  // emptied output buffers, for the next answers
    bool splice_;
    struct Splicing {
        Pipe pipe;                    // the pipe a client's file goes through
        size_t in_pipe = 0;           // ...and the bytes in it, spliced from the file but not yet to the socket
    };
    std::unordered_map<int, Splicing> splicing_;  // --splice: by descriptor, the clients sending a file
    std::vector<Pipe> spare_pipes_;   // --splice: emptied pipes, for the next files
    size_t count_ = 0;
    uint32_t next_generation_ = 1;
    struct Waker {
        Fd fd;
        uint64_t count = 0;  // where the ring reads the eventfd's counter to
        std::function<void()> on_wake;
    };
    std::vector<std::unique_ptr<Waker>> wakers_;
    DeadlineList idle_, header_, linger_;
    Clock::time_point turn_started_{};
    BurstLog out_of_fds_{"accept: out of file descriptors; serving the connections we have, accepting again in 100 ms"};
    BurstLog at_capacity_{"at --max-connections: answering new clients 503"};
};

}  // namespace one::uring
