// Chapter 05's poller: epoll. The loop of chapter 04, but the watch list now lives in the kernel. We add
// a socket once (epoll_ctl), change it only when what we wait for changes, and each wait returns
// only the sockets that are ready, taken from a ready list the kernel fills as packets arrive.
// A wait costs as much as what is ready, not what is watched: 10,000 idle connections cost
// nothing while they stay idle.
//
// Two ways to be told. Level-triggered (the default) reports a socket on every wait while it is
// still readable or writable, like poll. Edge-triggered (--edge) reports only changes, so the loop
// must read, write and accept until EAGAIN, and in exchange a socket is registered once for both
// directions and never touched again: fewer epoll_ctl calls.
#pragma once

#include "common/poller.hpp"
#include "common/sys.hpp"

#include <algorithm>
#include <sys/epoll.h>
#include <vector>

namespace one {

class EpollPoller final : public Poller {
public:
    // `exclusive_fd`, if given, is watched with EPOLLEXCLUSIVE: of several processes waiting on it,
    // the kernel wakes one rather than all (chapter 06's --shared-listener --exclusive).
    explicit EpollPoller(bool edge, int exclusive_fd = -1)
        : epoll_(::epoll_create1(EPOLL_CLOEXEC)), edge_(edge), exclusive_fd_(exclusive_fd) {
        if (!epoll_) throw_errno("epoll_create1");
    }

    bool watch(int fd, uint32_t generation, Interest interest) override {
        if (registered_.size() <= static_cast<size_t>(fd)) registered_.resize(static_cast<size_t>(fd) + 1);
        bool known = registered_[fd];
        if (known && edge_) return true;  // edge-triggered: registered for both directions already
        epoll_event ev{};
        ev.events = edge_ ? EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET
                          : (interest.read ? EPOLLIN | EPOLLRDHUP : 0u) | (interest.write ? EPOLLOUT : 0u);
        // The kernel hands this back with each event: the fd, and the generation that tells a
        // stale event (for a connection closed earlier in the same batch) from a fresh one.
        ev.data.u64 = (uint64_t{generation} << 32) | static_cast<uint32_t>(fd);
        // EPOLLEXCLUSIVE takes only in/out/error bits: with EPOLLRDHUP (meaningless on a listener) it is EINVAL.
        if (fd == exclusive_fd_) ev.events = (ev.events & ~uint32_t{EPOLLRDHUP}) | EPOLLEXCLUSIVE;
        if (::epoll_ctl(epoll_.get(), known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0) return false;
        registered_[fd] = true;
        return true;
    }

    void forget(int fd) override {
        // close() would drop the fd from the interest list too, but only once no duplicate of it is left open.
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
        registered_[fd] = false;
    }

    void wait(std::vector<Fired>& fired, int timeout_ms) override {
        int ready = ::epoll_wait(epoll_.get(), events_.data(), static_cast<int>(events_.size()), timeout_ms);
        for (int i = 0; i < ready; ++i) {  // only ready sockets come back: nothing to scan
            uint32_t got = events_[i].events;
            fired.push_back({static_cast<int>(events_[i].data.u64 & 0xffffffff), static_cast<uint32_t>(events_[i].data.u64 >> 32),
                             (got & (EPOLLIN | EPOLLRDHUP)) != 0, (got & EPOLLOUT) != 0, (got & (EPOLLERR | EPOLLHUP)) != 0});
        }
    }

    bool edge_triggered() const override { return edge_; }
    const char* name() const override { return "epoll_wait"; }

private:
    Fd epoll_;
    bool edge_;
    int exclusive_fd_;
    std::vector<bool> registered_;                 // which descriptors the kernel's list holds
    std::vector<epoll_event> events_ = std::vector<epoll_event>(1024);  // one wait returns at most this many
};

}  // namespace one
