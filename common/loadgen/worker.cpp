// worker: a client thread's epoll loop, the open-loop schedule and the housekeeping timers.
#include "worker.hpp"

#include "net.hpp"

#include <algorithm>

namespace one::loadgen {

namespace {

constexpr int64_t kHousekeepingNs = 20'000'000;  // timeouts and reconnects are checked every 20 ms
constexpr int kEventBatch = 1024;                // events taken per epoll wait
constexpr size_t kReadBufBytes = 64 * 1024;      // per thread; a read that fills it is followed by another
constexpr int kIdleWave = 256;                   // idle connections opening at once per thread, so the
                                                 // server's accept queue is not flooded into SYN retries

std::string build_request(const Options& o, const MixEntry& e) {
    std::string r = e.method + " " + e.path + " HTTP/1.1\r\nHost: " + host_and_port(o) + "\r\n";
    if (!e.body.empty() || e.method == "POST" || e.method == "PUT")
        r += "Content-Type: application/octet-stream\r\nContent-Length: " + std::to_string(e.body.size()) + "\r\n";
    if (o.close_each) r += "Connection: close\r\n";  // the server closes after answering; we reconnect
    return r + "\r\n" + e.body;
}

// The batch's request: --method, --path and --body, or with --mix its first entry.
MixEntry batch_entry(const Options& o) {
    if (!o.mix.empty()) return o.mix.front();
    MixEntry e;
    e.method = o.method, e.path = o.path, e.body = o.body;
    return e;
}

}  // namespace

Worker::Worker(const Options& options, SharedRun& run, const Share& share, const ClientContext* tls)
    : options_(options), tls_(tls), run_(run), share_(share), epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      read_buf_(kReadBufBytes), events_(kEventBatch) {
    if (!epoll_) throw_errno("epoll_create1");
    server_ = parse_address(options.host, options.port);
    MixEntry first = batch_entry(options);
    std::string request = build_request(options, first);
    request_len_ = request.size();
    for (int i = 0; i < options.pipeline; ++i) batch_ += request;
    head_request_ = first.method == "HEAD";
    if (!options.mix.empty()) prepare_mix();

    busy_end_ = static_cast<size_t>(share.busy);
    slow_end_ = busy_end_ + static_cast<size_t>(share.slow);
    next_idle_ = slow_end_;
    connections_.resize(slow_end_ + static_cast<size_t>(share.idle));
    for (size_t i = 0; i < connections_.size(); ++i) {
        Connection& c = connections_[i];
        c.role = i < busy_end_ ? Role::Busy : i < slow_end_ ? Role::Slow : Role::Idle;
        c.depth = c.role == Role::Busy ? static_cast<uint32_t>(options.pipeline) : 1;
        c.started = std::make_unique<int64_t[]>(c.depth);
        c.lane = static_cast<uint32_t>(i);
        const auto& ips = options.source_ips;  // round-robin over every connection of every thread
        if (!ips.empty()) c.source = ips[(share.thread + i * static_cast<size_t>(share.threads)) % ips.size()];
        c.checker.start(options.expect_status, head_request_);
        if (c.role == Role::Busy) c.bucket = ReadBucket(options.read_rate);  // unlimited without --read-rate
        c.out = batch_.data();
        if (chooser_ && c.role == Role::Busy) c.entries = std::make_unique<uint32_t[]>(c.depth);
    }
    if (options.open_loop() && share.busy > 0) {
        // This thread's share of the rate; threads start a fraction of a slot apart so they interleave.
        double rate = options.rate * share.busy / options.connections;
        slot_period_ns_ = 1e9 / rate;
        slot_phase_ = static_cast<double>(share.thread) / share.threads;
    }
}

Worker::~Worker() = default;

// --mix: every entry's request, built once; the draws; a histogram per entry.
void Worker::prepare_mix() {
    for (const MixEntry& e : options_.mix) {
        mix_requests_.push_back(build_request(options_, e));
        mix_head_.push_back(e.method == "HEAD");
    }
    chooser_.emplace(options_.mix, options_.seed, share_.thread);
    stats.mix.resize(options_.mix.size());
}

void Worker::run() {
    int64_t now = now_ns();
    next_housekeeping_ns_ = now + kHousekeepingNs;
    // Busy and slow connections connect first, so that they hold the server's lowest descriptors
    // (select's wall at 1024 then falls on the crowd, not on them), but they send nothing until
    // the crowd is settled and the clock starts.
    for (size_t i = 0; i < slow_end_; ++i) open(connections_[i], now);
    open_idle_wave(now);
    while (!crowd_settled() && !run_.stop.load(std::memory_order_relaxed)) {
        loop_turn(now);
        now = now_ns();
    }
    run_.crowds_settled.fetch_add(1, std::memory_order_release);
    run_.crowds_settled.notify_all();
    run_.go.wait(false, std::memory_order_acquire);  // the timeline is set after this
    opening_crowd_ = false;
    if (run_.stop.load(std::memory_order_relaxed)) return finish();
    now = now_ns();
    for (size_t i = 0; i < slow_end_; ++i) {  // the ones still connecting (or handshaking) start in connected()
        Connection& c = connections_[i];
        if (c.phase != Phase::Active) continue;
        if (c.role == Role::Slow) trickle(c, now);
        else pump(c, now);
    }
    next_housekeeping_ns_ = now + kHousekeepingNs;
    next_trickle_ns_ = now + int64_t{options_.slow_interval_ms} * 1'000'000;
    next_read_tick_ns_ = now + kReadTickNs;
    while (!run_.stop.load(std::memory_order_relaxed) && now < run_.run_end_ns) {
        loop_turn(now);
        now = now_ns();
    }
    finish();
}

// One turn: wait, handle what fired, then whatever timer came due.
void Worker::loop_turn(int64_t now) {
    int n = wait_events(epoll_.get(), events_.data(), kEventBatch, next_wake() - now);
    // Each event gets its own time: the events late in a big batch really were handled later.
    for (int i = 0; i < n; ++i) dispatch(events_[static_cast<size_t>(i)], now_ns());
    now = now_ns();
    if (slot_period_ns_ > 0 && !opening_crowd_) release_slots(now);
    if (slow_end_ > busy_end_ && !opening_crowd_ && now >= next_trickle_ns_) trickle_slow(now);
    if (options_.slow_reading() && !opening_crowd_ && now >= next_read_tick_ns_) read_tick(now);
    if (now >= next_housekeeping_ns_) housekeeping(now);
    if (idle_opening_ < kIdleWave && next_idle_ < connections_.size()) open_idle_wave(now);
    progress_completed.store(stats.completed_total, std::memory_order_relaxed);
    progress_errors.store(stats.error_total(), std::memory_order_relaxed);
}

void Worker::dispatch(const epoll_event& event, int64_t now) {
    Connection& c = connections_[event.data.u64 & 0xffffffff];
    auto generation = static_cast<uint32_t>(event.data.u64 >> 32);
    if (c.generation != generation || !c.fd) return;  // for a socket closed earlier in this batch
    if (c.phase == Phase::Connecting) return finish_connect(c, now);
    if (c.phase == Phase::Handshaking) return continue_handshake(c, now);  // errors too: SSL_connect reports them
    bool broken = (event.events & (EPOLLERR | EPOLLHUP)) != 0;  // reported even with EPOLLIN unwatched
    bool in = (event.events & EPOLLIN) != 0, out = (event.events & EPOLLOUT) != 0;
    // Readiness retries the operation that waited for it, and over TLS a read may wait for writable
    // and a write for readable. A slow client writes only on its own clock (trickle), never here.
    if (in || broken || (out && c.tls.read_needs_write)) read_responses(c, now, broken);
    bool retry_write = out || (in && c.tls.write_needs_read);
    if (retry_write && c.role != Role::Slow && c.generation == generation && c.phase == Phase::Active) pump(c, now);
}

// Slot j of this thread's schedule is due at start + (j + phase) * period; slot j belongs to
// busy connection j % m, as that connection's slot j / m.
int64_t Worker::slot_time(uint64_t slot) const {
    return run_.start_ns + static_cast<int64_t>((static_cast<double>(slot) + slot_phase_) * slot_period_ns_);
}

void Worker::release_slots(int64_t now) {
    while (slot_time(next_slot_) <= now) {
        Connection& c = connections_[next_slot_ % busy_end_];
        ++c.due;  // if the connection is busy, the request waits here with its clock running
        ++next_slot_;
        if (c.phase == Phase::Active) pump(c, now);
    }
}

void Worker::housekeeping(int64_t now) {
    next_housekeeping_ns_ = now + kHousekeepingNs;
    // A settled crowd is held or finished: no deadline, never reopened. Walking 20,000 of them 50
    // times a second would be work of the crowd's size, on the thread the busy connections wait for.
    size_t end = crowd_settled() ? slow_end_ : connections_.size();
    for (size_t i = 0; i < end; ++i) {
        Connection& c = connections_[i];
        if (c.deadline_ns != 0 && now >= c.deadline_ns) {
            if (c.phase == Phase::Handshaking) ++stats.tls.failed;  // a timeout, and a handshake that failed
            fail(c, ErrorKind::Timeout, now);
        } else if (c.phase == Phase::Waiting) {
            open(c, now);
        }
    }
}

void Worker::trickle_slow(int64_t now) {
    next_trickle_ns_ = std::max(next_trickle_ns_, now - 1) + int64_t{options_.slow_interval_ms} * 1'000'000;
    for (size_t i = busy_end_; i < slow_end_; ++i)
        if (connections_[i].phase == Phase::Active) trickle(connections_[i], now);
}

// --read-rate: the busy connections that ran out of tokens read what their refilled buckets allow.
// Those that stay out of tokens wait for the next tick, unwatched, so the loop sleeps until then.
void Worker::read_tick(int64_t now) {
    next_read_tick_ns_ = std::max(next_read_tick_ns_, now - 1) + kReadTickNs;
    for (size_t i = 0; i < busy_end_; ++i) {
        Connection& c = connections_[i];
        if (c.phase == Phase::Active && !c.want_read) read_responses(c, now);
    }
}

void Worker::open_idle_wave(int64_t now) {
    while (idle_opening_ < kIdleWave && next_idle_ < connections_.size()) {
        ++idle_opening_;  // before open(): a connect that fails at once settles, and counts down, inside it
        open(connections_[next_idle_++], now);
    }
}

int64_t Worker::next_wake() const {
    if (opening_crowd_) return next_housekeeping_ns_;
    int64_t wake = std::min(next_housekeeping_ns_, run_.run_end_ns);
    if (slot_period_ns_ > 0) wake = std::min(wake, slot_time(next_slot_));
    if (slow_end_ > busy_end_) wake = std::min(wake, next_trickle_ns_);
    if (options_.slow_reading()) wake = std::min(wake, next_read_tick_ns_);
    return wake;
}

void Worker::finish() {
    for (size_t i = slow_end_; i < connections_.size(); ++i)
        if (connections_[i].phase == Phase::Held) ++stats.idle_held;
    // Closed with FIN, a crowd of 20000 would leave 20000 ports in TIME_WAIT, and the next run's
    // connects would search longer and longer for a free one, or find none.
    for (Connection& c : connections_) {
        stats.tls.tickets += c.tls.tickets;
        c.tls.drop_socket();  // no close_notify: this close is abortive anyway
        if (c.fd) close_abortively(c.fd);
    }
    progress_completed.store(stats.completed_total, std::memory_order_relaxed);
    progress_errors.store(stats.error_total(), std::memory_order_relaxed);
}

}  // namespace one::loadgen
