// status: the counters behind GET /status, in the spirit of nginx's stub_status.
//
// Each process counts into its own slot: plain relaxed atomics, bumped where the work happens
// (an accept, a parsed request, a read, a write, a refusal). A multi-worker server (chapters 06 on)
// maps the slots before it forks, shared, one per worker, as nginx's workers share their counters
// segment; any worker can then answer /status for all of them by reading every slot. Nothing is
// locked and nothing waits, so counting costs a few locked additions per request.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <sys/types.h>

namespace one::status {

// Why a client was turned away: a 503 for a server with no room, an HTTP error for a bad request
// (never counted as a request: it was not one), a proxy's 502 or 504 (counted as a request too:
// it was one, which the backend could not answer), or (no response possible) an accept that failed
// for want of a descriptor, counted at each try: while it lasts, every 100 ms.
enum class Refusal : uint8_t {
    NoRoomFdSetsize,       // 503: select() cannot watch a descriptor this high
    NoRoomMaxConnections,  // 503: --max-connections reached
    NoRoomThreads,         // 503: chapter 02 could not start a thread
    NoRoomQueue,           // 503: chapter 08's pool and its queue are full
    NoRoomDescriptors,     // 503: no descriptor left for the file (07 on) or the backend (09)
    AcceptOutOfDescriptors,  // accept failed with EMFILE or ENFILE: the client waits in the queue
    BadRequest,            // 400
    Timeout,               // 408: a request begun and not finished in time
    BodyTooLarge,          // 413
    TargetTooLong,         // 414
    HeadersTooLarge,       // 431
    NotImplemented,        // 501
    VersionNotSupported,   // 505
    Gateway,               // 502, 504: a proxy's backend failed or was too slow
    Other,                 // any other error status
    Count
};

// What a connection is doing, as the gauges count it.
enum class State : uint8_t { None, Reading, Writing, Idle, Closing };

// A number a model adds to its page: 02's threads alive, 08's queue and busy threads.
enum class ModelNumber : uint8_t { ThreadsAlive, PoolQueued, PoolBusy, Count };

// alignas: each worker's slot starts a cache line of its own, so two workers never write to one line.
struct alignas(64) Slot {
    std::atomic<uint64_t> accepted{0}, requests{0}, bytes_in{0}, bytes_out{0};
    std::atomic<uint64_t> turns{0}, events{0};  // an event loop's turns and the events they handled
    std::atomic<uint64_t> refused[static_cast<int>(Refusal::Count)]{};
    std::atomic<int64_t> in_state[5]{};          // connections per State (None unused)
    std::atomic<int64_t> model[static_cast<int>(ModelNumber::Count)]{};
    std::atomic<int32_t> pid{0};       // the process counting here; 0: the slot is free
    std::atomic<int32_t> worker{0};    // which worker it is (chapter 06's slot number)
    std::atomic<uint32_t> restarts{0}; // how many times that worker had died before this one
    std::atomic<uint8_t> shown{0};               // one bit per ModelNumber this model sets
};

// This process's slot.
Slot& mine();

inline void add(std::atomic<uint64_t>& counter, uint64_t n = 1) { counter.fetch_add(n, std::memory_order_relaxed); }

// The socket calls in sys.cpp are shared with loadgen and the tests' clients, whose threads must
// not all add into one slot (a cache line bounced between cores at every read). So they count
// only in a server: App's constructor turns this on, once, before any thread starts.
inline bool counting = false;
inline void count_bytes_in(uint64_t n) { if (counting) add(mine().bytes_in, n); }
inline void count_bytes_out(uint64_t n) { if (counting) add(mine().bytes_out, n); }
void count_refusal(Refusal why);
void count_refusal_status(int http_status);  // 400 -> BadRequest, 502 -> Gateway, ...; 503 -> Other
void set_model(ModelNumber which, int64_t value);
void add_model(ModelNumber which, int64_t delta);

// Moves one connection's gauge from `counted` to `now` (None: not counted, as before it opened or
// after it closed) and remembers `now` in `counted`. Called where a model's connection changes.
void move(State& counted, State now);

// The same for a connection that lives on one thread's stack (the blocking chapters): it leaves
// the gauges when it goes out of scope, however the session ended.
class CountedConnection {
public:
    CountedConnection() { move(state_, State::Idle); }
    ~CountedConnection() { move(state_, State::None); }
    CountedConnection(const CountedConnection&) = delete;
    CountedConnection& operator=(const CountedConnection&) = delete;
    void now(State state) { move(state_, state); }

private:
    State state_ = State::None;
};

// Multi-worker servers. Every worker process gets a slot of its own, including the new workers a
// reload starts while the old ones still finish their connections; a slot is reused only after its
// process has exited and its counts have moved into the "ended" slot, which keeps the totals whole.
// In the master, before the first fork: room for `workers` workers in shared memory.
void share_between(int workers);
// In the master, before forking worker number `worker`: a free slot's index, or -1 if none is left
// (that worker then counts only for itself).
int claim_slot(int worker);
// In the master, after fork: the claimed slot is process `pid`'s (0: the fork failed, free it again).
void assign_slot(int index, pid_t pid);
// In the worker after the fork: count into slot `index` from now on.
void count_as_worker(int index);
// In the master, when process `pid` has exited (and been reaped): its counts go to the ended slot,
// its connection gauges to zero (its connections ended with it), and the slot is free again.
// `died`: it was not told to stop, so its worker number's restarts go up by one.
void process_ended(pid_t pid, bool died);

// The page: plain text, or JSON. `title` names the server ("05-epoll: one thread, epoll, ...").
std::string render(const std::string& chapter, const std::string& model, bool json);

}  // namespace one::status
