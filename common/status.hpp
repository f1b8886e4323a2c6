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

// Why a client was turned away: a 503 for a server with no room, an HTTP error for a bad request,
// or (no response possible) an accept that failed for want of a descriptor.
enum class Refusal : uint8_t {
    NoRoomFdSetsize,      // 503: select() cannot watch a descriptor this high
    NoRoomMaxConnections, // 503: --max-connections reached
    NoRoomThreads,        // 503: chapter 02 could not start a thread
    OutOfDescriptors,     // accept failed with EMFILE or ENFILE: the client waits in the queue
    BadRequest,           // 400
    Timeout,              // 408: a request begun and not finished in time
    BodyTooLarge,         // 413
    TargetTooLong,        // 414
    HeadersTooLarge,      // 431
    NotImplemented,       // 501
    VersionNotSupported,  // 505
    Other,                // any other error status (a proxy's 502 and 504)
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
    std::atomic<int32_t> pid{0};
    std::atomic<uint32_t> restarts{0};
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
void count_refusal_status(int http_status);  // 400 -> BadRequest, ...; 503s are counted by their reason
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

// Multi-worker servers: in the master, before forking, room for `workers` slots in shared memory.
void share_between(int workers);
// In worker `index` after the fork: count into its shared slot from now on.
void count_as_worker(int index);
// In the master, when worker `index` died and is replaced: its connections died with it.
void worker_restarted(int index);

// The page: plain text, or JSON. `title` names the server ("05-epoll: one thread, epoll, ...").
std::string render(const std::string& chapter, const std::string& model, bool json);

}  // namespace one::status
