// deadline_list: timeouts for thousands of connections at O(1) each.
//
// Every connection in one list has the same timeout, so the one touched last expires last:
// appending at the back keeps the list sorted by deadline, and the next deadline is always at the
// front. No heap, no tree (nginx uses a red-black tree because its timeouts differ; ours do not).
// The links live inside the element (intrusive), so joining a list never allocates.
#pragma once

#include <chrono>
#include <cstdint>

namespace one {

using Clock = std::chrono::steady_clock;

struct DeadlineHook {
    int fd = -1;  // whose hook this is: the connection's descriptor, to find it in the server's table
    DeadlineHook* prev = nullptr;
    DeadlineHook* next = nullptr;
    struct DeadlineList* list = nullptr;  // which list holds it, if any
    Clock::time_point deadline{};
};

struct DeadlineList {
    Clock::duration timeout;
    DeadlineHook* head = nullptr;  // the earliest deadline
    DeadlineHook* tail = nullptr;

    explicit DeadlineList(Clock::duration t) : timeout(t) {}

    // Moves `hook` (from whatever list holds it) to the back of this one, due at now + timeout.
    void arm(DeadlineHook& hook, Clock::time_point now) {
        disarm(hook);
        hook.deadline = now + timeout;
        hook.list = this;
        hook.prev = tail;
        hook.next = nullptr;
        (tail ? tail->next : head) = &hook;
        tail = &hook;
    }

    // Takes `hook` out of whichever list holds it.
    static void disarm(DeadlineHook& hook) {
        DeadlineList* l = hook.list;
        if (!l) return;
        (hook.prev ? hook.prev->next : l->head) = hook.next;
        (hook.next ? hook.next->prev : l->tail) = hook.prev;
        hook.prev = hook.next = nullptr;
        hook.list = nullptr;
    }

    // The front element if its deadline has passed, else nullptr.
    DeadlineHook* expired(Clock::time_point now) const { return head && head->deadline <= now ? head : nullptr; }
};

}  // namespace one
