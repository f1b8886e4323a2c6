// poller: the one thing chapters 03, 04 and 05 do differently. Each chapter implements this small
// interface with its own readiness API (select, poll, epoll), in its own poller.hpp; everything
// else about the event loop is shared (common/event_server.cpp), as Redis shares ae.c between
// ae_select.c and ae_epoll.c. Diff two chapters and you see exactly what the new API changes.
#pragma once

#include <cstdint>
#include <vector>

namespace one {

struct Interest {
    bool read = false;
    bool write = false;
    bool operator==(const Interest&) const = default;
};

// One descriptor the kernel reported ready.
struct Fired {
    int fd;
    uint32_t generation;  // what watch() was given: tells a stale event from one for a new connection
    bool readable;
    bool writable;
    bool failed;  // an error or a hang-up: reading will tell which
};

class Poller {
public:
    virtual ~Poller() = default;
    // Starts watching `fd`, or changes what for. Returns false if this poller cannot watch `fd` at
    // all (select() cannot watch a descriptor numbered FD_SETSIZE or above).
    virtual bool watch(int fd, uint32_t generation, Interest interest) = 0;
    // Stops watching `fd`. Call it before closing the descriptor.
    virtual void forget(int fd) = 0;
    // Sleeps until something is ready or `timeout_ms` passes (-1: no limit); appends to `fired`.
    virtual void wait(std::vector<Fired>& fired, int timeout_ms) = 0;
    // Edge-triggered pollers report a descriptor once per change, so the loop must read, write
    // and accept until EAGAIN; level-triggered ones keep reporting while anything is left.
    virtual bool edge_triggered() const { return false; }
    // The system call that waits, as --narrate names it: "select", "poll", "epoll_wait".
    virtual const char* name() const = 0;
};

}  // namespace one
