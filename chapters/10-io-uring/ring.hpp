// ring: an io_uring instance, and the buffers the kernel picks from when data arrives.
//
//   user space                                  kernel
//   ----------                                  ------
//   submission queue  (SQ)  --- we write SQEs ---> it reads them: "recv on fd 7", "send these bytes"
//   completion queue  (CQ)  <-- it writes CQEs --- we read them: "recv on fd 7: 120 bytes, in buffer 3"
//
// Both rings are memory shared with the kernel, so queueing work and reaping results are plain
// loads and stores. The one system call, io_uring_enter, says "there is new work" and waits for
// completions: one call per turn of the loop, however many sockets the turn touches.
//
// A receive could name its buffer up front, as read() does, but then every connection waiting
// for a request would hold one. Instead receives name a buffer group: a ring of buffers we hand
// the kernel, from which it takes one only when bytes arrive. We give each back once its bytes
// are parsed, so an idle connection holds no buffer, as in chapter 05.
#pragma once

#include "common/deadline_list.hpp"
#include "common/sys.hpp"

#include <liburing.h>

#include <cstdint>
#include <span>
#include <string>

namespace one::uring {

// What the kernel gave us; printed at start-up, since it decides how much work a turn costs.
struct RingFeatures {
    // SINGLE_ISSUER + DEFER_TASKRUN (6.1): completions are finished when we ask for them, in our
    // io_uring_enter, not by interrupting us whenever a packet arrives.
    bool defer_taskrun = false;
    // COOP_TASKRUN (5.19), the fallback: the kernel does not interrupt us either, but runs the
    // work on the next transition into the kernel, whichever it is.
    bool coop_taskrun = false;
    bool registered_fd = false;  // io_uring_enter skips looking the ring's descriptor up
    std::string describe() const;
};

class Ring {
public:
    // Sets up a ring of `entries` submission slots (completions: twice as many), asking for the
    // cheapest way the kernel offers to finish work. Throws (throw_errno) if there is no io_uring.
    explicit Ring(unsigned entries);
    ~Ring();
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;

    // A free submission slot. If the queue is full, what is queued goes to the kernel first.
    io_uring_sqe* sqe();
    // Makes room for `count` slots in a row, submitting what is queued if there is not: a link
    // (IOSQE_IO_LINK) holds only within one submission, so a linked pair must not be split.
    void reserve(unsigned count);
    // Submits what is queued and waits for `count` completions, or until `timeout` has passed
    // (Clock::duration::max(): no limit), whichever comes first. One io_uring_enter: the wait's
    // timeout travels inside that call, not as an operation. With DEFER_TASKRUN the kernel does not
    // even wake us before `count` are ready, which is what makes waiting for several cheap.
    void submit_and_wait(unsigned count, Clock::duration timeout);
    // Calls `on(cqe)` for every completion that is ready, then marks them all seen.
    template <class F>
    unsigned drain(F&& on) {
        unsigned head, count = 0;
        io_uring_cqe* cqe;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            on(*cqe);
            ++count;
        }
        io_uring_cq_advance(&ring_, count);
        return count;
    }
    const RingFeatures& features() const { return features_; }
    io_uring* raw() { return &ring_; }

private:
    io_uring ring_{};
    RingFeatures features_;
};

// A provided-buffer ring: `count` buffers of `size` bytes in group `group`, registered with
// `ring`. A receive that names the group gets whichever buffer is next; its completion says which
// (the buffer id). give_back() returns it to the kernel. If every buffer is out, a receive ends
// with ENOBUFS, and the bytes stay in the socket until it is armed again.
class BufferRing {
public:
    BufferRing(Ring& ring, uint16_t group, unsigned count, unsigned size);
    ~BufferRing();
    BufferRing(const BufferRing&) = delete;
    BufferRing& operator=(const BufferRing&) = delete;

    uint16_t group() const { return group_; }
    std::span<char> buffer(unsigned id, size_t length) { return {memory_ + size_t{id} * size_, length}; }
    void give_back(unsigned id);

private:
    Ring& ring_;
    io_uring_buf_ring* shared_ = nullptr;  // the ring of buffer addresses, shared with the kernel
    size_t shared_bytes_;
    uint16_t group_;
    unsigned count_, size_;
    char* memory_ = nullptr;  // count * size bytes, mapped and touched at start (see the constructor)
};

// Why this process cannot have io_uring, in one line, or "" if it can (a ring was set up).
// Tells apart: the kernel has none (ENOSYS), kernel.io_uring_disabled, a seccomp filter (as
// container runtimes install by default), and a kernel too old for what chapter 10 uses.
std::string why_unavailable();

}  // namespace one::uring
