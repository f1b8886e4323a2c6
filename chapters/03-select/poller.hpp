// Chapter 03's poller: select. One thread now serves every client. Sockets are non-blocking, so no call
// ever waits for one client while others are ready; instead the thread asks the kernel one
// question, "which of these sockets can I read or write without waiting?", sleeps in select()
// until the answer is "some", and serves exactly those. The loop is common/event_server.cpp and
// the request cycle common/connection.cpp; what is select-specific is the SelectPoller below.
//
// Its two costs are this chapter's lesson. Every call hands the kernel the whole list of watched
// descriptors as bitmaps and gets them back overwritten, so both sides scan all of them, ready or
// not. And the bitmaps have a fixed size: a descriptor numbered FD_SETSIZE (1024) or above cannot
// be watched at all. Such a client gets 503, because FD_SET on it would write past the bitmap.
#pragma once

#include "common/log.hpp"
#include "common/poller.hpp"
#include "common/sys.hpp"

#include <algorithm>
#include <array>
#include <sys/select.h>
#include <vector>

namespace one {

class SelectPoller final : public Poller {
public:
    const char* name() const override { return "select"; }
    SelectPoller() {
        FD_ZERO(&read_set_);
        FD_ZERO(&write_set_);
        log_line("select() cannot watch descriptors numbered " + std::to_string(FD_SETSIZE) + " or above: their clients get 503");
    }

    bool watch(int fd, uint32_t generation, Interest interest) override {
        if (fd >= FD_SETSIZE) return false;  // the wall: FD_SET would corrupt memory
        interest.read ? FD_SET(fd, &read_set_) : FD_CLR(fd, &read_set_);
        interest.write ? FD_SET(fd, &write_set_) : FD_CLR(fd, &write_set_);
        generation_[fd] = generation;
        max_fd_ = std::max(max_fd_, fd);
        return true;
    }

    void forget(int fd) override {
        FD_CLR(fd, &read_set_);
        FD_CLR(fd, &write_set_);
        while (max_fd_ >= 0 && !FD_ISSET(max_fd_, &read_set_) && !FD_ISSET(max_fd_, &write_set_)) --max_fd_;
    }

    void wait(std::vector<Fired>& fired, int timeout_ms) override {
        fd_set readable = read_set_;  // select() overwrites its sets with the answer: hand it copies
        fd_set writable = write_set_;
        timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        int ready = ::select(max_fd_ + 1, &readable, &writable, nullptr, timeout_ms < 0 ? nullptr : &tv);
        if (ready < 0) return;  // EINTR: the loop will simply wait again
        // The answer is a bitmap too: finding the few ready sockets means testing every one up to max_fd_.
        for (int fd = 0; fd <= max_fd_ && ready > 0; ++fd) {
            bool r = FD_ISSET(fd, &readable), w = FD_ISSET(fd, &writable);
            if (!r && !w) continue;
            fired.push_back({fd, generation_[fd], r, w, false});
            ready -= r + w;
        }
    }

private:
    fd_set read_set_;
    fd_set write_set_;
    int max_fd_ = -1;                                  // the highest descriptor in either set
    std::array<uint32_t, FD_SETSIZE> generation_{};    // what watch() was told, per descriptor
};

}  // namespace one
