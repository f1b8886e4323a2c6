// Chapter 04's poller: poll. The loop of chapter 03 with select() replaced by poll(). The watch list is
// now an array of (descriptor, events wanted, events that happened) that we own and keep in step
// with the connections, so any descriptor number works: the FD_SETSIZE wall is gone.
//
// What has not changed is the shape of the conversation. Every wait copies the whole array into
// the kernel, which checks every socket in it and copies it back; then we scan it all to find the
// ready few. With 10,000 idle connections and one busy one, each request pays for 10,001 checks:
// the cost of a wait grows with the number watched, not the number ready.
#pragma once

#include "common/poller.hpp"
#include "common/sys.hpp"

#include <algorithm>
#include <poll.h>
#include <vector>

namespace one {

class PollPoller final : public Poller {
public:
    const char* name() const override { return "poll"; }
    bool watch(int fd, uint32_t generation, Interest interest) override {
        if (slot_of_.size() <= static_cast<size_t>(fd)) slot_of_.resize(static_cast<size_t>(fd) + 1, -1);
        int& slot = slot_of_[fd];
        if (slot < 0) {  // new: one more entry at the end of the array
            slot = static_cast<int>(entries_.size());
            entries_.push_back({fd, 0, 0});
            generations_.push_back(0);
        }
        entries_[slot].events = static_cast<short>((interest.read ? POLLIN : 0) | (interest.write ? POLLOUT : 0));
        generations_[slot] = generation;
        return true;
    }

    void forget(int fd) override {
        int slot = static_cast<size_t>(fd) < slot_of_.size() ? slot_of_[fd] : -1;
        if (slot < 0) return;
        // Keep the array dense: move the last entry into the hole.
        entries_[slot] = entries_.back();
        generations_[slot] = generations_.back();
        slot_of_[entries_[slot].fd] = slot;
        entries_.pop_back();
        generations_.pop_back();
        slot_of_[fd] = -1;
    }

    void wait(std::vector<Fired>& fired, int timeout_ms) override {
        int ready = ::poll(entries_.data(), entries_.size(), timeout_ms);
        if (ready < 0) return;  // EINTR: the loop will simply wait again
        // poll() marks the ready entries in place; finding them means looking at every entry.
        for (size_t i = 0; i < entries_.size() && ready > 0; ++i) {
            short got = entries_[i].revents;
            if (!got) continue;
            fired.push_back({entries_[i].fd, generations_[i], (got & POLLIN) != 0, (got & POLLOUT) != 0,
                             (got & (POLLERR | POLLHUP | POLLNVAL)) != 0});
            --ready;
        }
    }

private:
    std::vector<pollfd> entries_;        // what poll() is given: one entry per watched descriptor
    std::vector<uint32_t> generations_;  // beside each entry, what watch() was told
    std::vector<int> slot_of_;           // descriptor -> its index in entries_, or -1
};

}  // namespace one
