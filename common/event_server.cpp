// event_server: the loop shared by every event-driven chapter: accept, dispatch, deadlines.
#include "event_server.hpp"

#include "narrate.hpp"

#include "refuse.hpp"

#include <algorithm>
#include <cstring>
#include <sys/eventfd.h>
#include <unistd.h>

namespace one {

namespace {

// "epoll_wait -> 2 ready: fd 3 (the listener) readable, fd 7 readable"
void narrate_turn(const char* wait_call, const std::vector<Fired>& fired, const std::function<const char*(int)>& listener_name) {
    std::string text = std::string(wait_call) + " -> " + std::to_string(fired.size()) + " ready";
    const char* separator = ": ";
    for (const Fired& f : fired) {
        text += separator + std::string("fd ") + std::to_string(f.fd);
        if (f.generation == 0) text += listener_name(f.fd);
        if (f.readable) text += " readable";
        if (f.writable) text += " writable";
        if (f.failed) text += " error/hang-up";
        separator = ", ";
    }
    if (fired.empty()) text += ": its timeout ran out, or a signal came";
    narrate::line(text);
}

}  // namespace

constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr int kReservedFds = 16;  // for the listener, the poller, logs: not for clients
constexpr size_t kFileBytesPerTurn = 1 << 20;  // one connection's share of a turn of the loop, in file bytes
constexpr size_t kCopyBuffer = 64 * 1024;       // --copy: the buffer file bytes pass through

void add_event_options(CLI::App& cli, EventOptions& o) {
    cli.add_option("--header-timeout", o.header_timeout_ms, "ms for a request's head to arrive once it has begun")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600 * 1000));
    cli.add_option("--max-connections", o.max_connections, "clients beyond this get 503 (0: the fd limit)")
        ->capture_default_str()
        ->check(CLI::Range(0, 10'000'000));
}

size_t connection_limit(const EventOptions& events) {
    long fd_limit = raise_fd_limit();
    long room = std::max<long>(1, fd_limit - kReservedFds);
    auto most = static_cast<size_t>(events.max_connections > 0 ? events.max_connections : room);
    log_line("fd limit " + std::to_string(fd_limit) + "; at most " + std::to_string(most) + " connections" +
             (events.max_connections > room ? " (more than the fd limit allows: accept() will run out of descriptors first)" : ""));
    return most;
}

EventServer::EventServer(Fd listener, Poller& poller, const App& app, const ServerOptions& options,
                         const EventOptions& events)
    : poller_(poller),
      shared_{app, options.max_body, poller.edge_triggered(), false, std::string(64 * 1024, '\0'), {}, {}, {}},
      max_body_(options.max_body),
      idle_(std::chrono::milliseconds(options.idle_timeout_ms)),
      header_(std::chrono::milliseconds(events.header_timeout_ms)),
      linger_(kLingerTime) {
    max_connections_ = connection_limit(events);
    shared_.files.how = events.file_sending;
    if (!poller.edge_triggered()) shared_.files.per_turn = kFileBytesPerTurn;
    if (events.file_sending == FileSending::Copy) shared_.files.scratch.assign(kCopyBuffer, '\0');
    turn_started_ = Clock::now();
    set_nonblocking(listener.get());
    if (!poller_.watch(listener.get(), 0, {true, false})) throw_errno("watching the listening socket");
    listeners_.push_back({std::move(listener), false});
}

void EventServer::also_accept_plain(Fd listener) {
    set_nonblocking(listener.get());
    if (!poller_.watch(listener.get(), 0, {true, false})) throw_errno("watching the plain listening socket");
    listeners_.push_back({std::move(listener), true});
}

void EventServer::run() {
    while (!(stopping_ && (count_ == 0 || Clock::now() >= give_up_at_))) run_once(-1);
    if (count_ > 0) log_line("the stop's deadline has passed: closing " + std::to_string(count_) + " connections still open");
}

int EventServer::make_waker(std::function<void()> on_wake) {
    Fd waker(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!waker) throw_errno("eventfd");
    watch_waker(waker.get(), std::move(on_wake));
    own_wakers_.push_back(std::move(waker));
    return own_wakers_.back().get();
}

void EventServer::watch_waker(int fd, std::function<void()> on_wake) {
    if (!poller_.watch(fd, 0, {true, false})) throw_errno("watching an eventfd");
    wakers_.push_back({fd, std::move(on_wake)});
}

void EventServer::secure_with(TransportMaker& maker) {
    transports_ = &maker;
    // A file's bytes must pass through memory to be encrypted: the copy path's buffer.
    if (shared_.files.scratch.empty()) shared_.files.scratch.assign(kCopyBuffer, '\0');
}

void EventServer::hand_off_to(Offload& offload, bool everything) {
    shared_.offload = &offload;
    shared_.offload_everything = everything;
    shared_.files.ask_cache = true;
}

bool EventServer::job_done(int fd, uint32_t generation, std::optional<http::Response> answer) {
    Connection* c = find(fd, generation);
    if (!c || !(c->answer_pending || c->warming || c->stream)) return false;  // gone; the fd may be a new client's
    on_job_done(*c, shared_, std::move(answer));
    update(*c);
    return true;
}

bool EventServer::watch_other(int fd, uint32_t& generation, Interest interest, Watched& owner) {
    if (generation == 0) generation = next_generation_++;
    if (others_.size() <= static_cast<size_t>(fd)) others_.resize(static_cast<size_t>(fd) + 1);
    others_[fd] = {generation, &owner};
    return poller_.watch(fd, generation, interest);
}

void EventServer::forget_other(int fd) {
    poller_.forget(fd);
    if (static_cast<size_t>(fd) < others_.size()) others_[fd] = {};
}

void EventServer::add_deadlines(DeadlineList& list, std::function<void(DeadlineHook&)> on_expired) {
    extra_deadlines_.push_back({&list, std::move(on_expired)});
}

// Closing a keep-alive connection between requests races with a request the client may be sending
// at that very moment, and that request would fail. So rather than close them, answer each
// connection's next request with Connection: close, and close the ones that stay quiet for a second.
void EventServer::stop_gracefully(Clock::duration give_up_after) {
    if (stopping_) return;
    stopping_ = true;
    if (give_up_after != Clock::duration::max()) give_up_at_ = Clock::now() + give_up_after;
    shared_.closing_all = true;
    // Clients the kernel has already accepted for us would be reset when the listener closes:
    // take them first, and serve them like the rest (one answer, then Connection: close).
    for (const Listener& l : listeners_) {
        if (!accept_paused_) accept_clients(l);
        poller_.forget(l.fd.get());
    }
    listeners_.clear();  // closed: new clients go to the other workers sharing the port, or wait for a new one
    accept_paused_ = false;
    // Every connection on the idle list gets the shorter timeout, not only the quiet ones: the list
    // is kept in deadline order by giving all its members one timeout, and a connection left with
    // its old 60 s deadline at the front would hold back the 1 s ones behind it.
    idle_.timeout = std::min<Clock::duration>(idle_.timeout, std::chrono::seconds(1));
    Clock::time_point now = Clock::now();
    for (auto& c : by_fd_)
        if (c && c->timer.list == &idle_) idle_.arm(c->timer, now);
}

void EventServer::run_once(int longest_wait_ms) {
    resuming_.swap(resume_);  // left over from the last turn; this turn's go to resume_, for the next
    int timeout = resuming_.empty() ? next_timeout_ms(Clock::now()) : 0;  // work waiting: look, do not sleep
    if (longest_wait_ms >= 0 && (timeout < 0 || timeout > longest_wait_ms)) timeout = longest_wait_ms;
    fired_.clear();
    poller_.wait(fired_, timeout);
    turn_started_ = Clock::now();
    status::add(status::mine().turns);
    status::add(status::mine().events, fired_.size());
    if (narrate::on)
        narrate_turn(poller_.name(), fired_, [this](int fd) {
            const Listener* l = listening_on(fd);
            return !l ? " (a wake-up)" : l->plain ? " (the plain listener)" : " (the listener)";
        });
    for (const Fired& f : fired_) dispatch(f);
    resume_readers();
    Clock::time_point now = Clock::now();
    expire_deadlines(now);
    if (accept_paused_ && now >= accept_resume_at_ && !stopping_) {
        accept_paused_ = false;
        for (const Listener& l : listeners_) poller_.watch(l.fd.get(), 0, {true, false});
    }
}

Connection* EventServer::find(int fd, uint32_t generation) {
    Connection* c = static_cast<size_t>(fd) < by_fd_.size() ? by_fd_[fd].get() : nullptr;
    return c && c->generation == generation ? c : nullptr;
}

// After this turn's events, the connections that stopped at their share of the last turn: so a
// client that never pauses is served once a turn, like everyone else, and nobody starves.
void EventServer::resume_readers() {
    for (const Fired& f : resuming_) {
        Connection* c = find(f.fd, f.generation);
        if (!c) continue;  // closed since
        c->resume_queued = false;
        if (!c->more_to_read) continue;  // an error event this turn read it to the end
        on_readable(*c, shared_);
        update(*c);
    }
    resuming_.clear();
}

void EventServer::dispatch(const Fired& f) {
    if (f.generation == 0) {
        if (const Listener* l = listening_on(f.fd)) return accept_clients(*l);
        for (const Waker& w : wakers_)
            if (w.fd == f.fd) {
                uint64_t count;
                ssize_t ignored = ::read(w.fd, &count, sizeof count);  // reset the eventfd, then act
                (void)ignored;
                return w.on_wake();
            }
        return;
    }
    // Earlier in this batch the connection on this fd may have been closed and the fd reused by a
    // new client: the event is about the old one. The generation tells them apart.
    Connection* c = find(f.fd, f.generation);
    if (!c) {
        size_t fd = static_cast<size_t>(f.fd);
        if (fd < others_.size() && others_[fd].owner && others_[fd].generation == f.generation)
            return others_[fd].owner->on_ready(f);  // chapter 09: a connection to a backend
        ++stale_events_;
        return;
    }
    // Chapter 08: an error or hang-up while its answer is made off the loop: the client is gone
    // (a reset). Close now; the answer is dropped when it comes (job_done checks the generation).
    if (f.failed && c->waiting == Waiting::Job) c->waiting = Waiting::Nothing;
    // A connection owed a turn is read in resume_readers, after everyone else: reading it here too
    // would give the client that never pauses two shares of the turn.
    if ((f.readable && !c->resume_queued) || f.failed) on_readable(*c, shared_);
    if (f.writable || f.failed) on_writable(*c, shared_);
    update(*c);
}

const EventServer::Listener* EventServer::listening_on(int fd) const {
    for (const Listener& l : listeners_)
        if (l.fd.get() == fd) return &l;
    return nullptr;
}

void EventServer::accept_clients(const Listener& from) {
    for (bool first = true;; first = false) {
        int err = 0;
        Fd client = accept_client(from.fd.get(), err, true);
        if (!client) {
            switch (grade_accept_error(err)) {
            case AcceptError::WouldBlock:
                if (first) ++counters_.empty_wakeups;  // woken for a client someone else took
                return;
            case AcceptError::Retry: continue;
            case AcceptError::OutOfFds:
                out_of_fds_.failure(std::strerror(err));
                return pause_accepting(Clock::now());
            case AcceptError::Fatal: throw_errno("accept", err);
            }
        }
        out_of_fds_.success();
        ++counters_.accepted;
        if (count_ >= max_connections_) {
            at_capacity_.failure(std::to_string(count_) + " open");
            refuse(std::move(client), status::Refusal::NoRoomMaxConnections, from.plain);
            continue;
        }
        at_capacity_.success();
        add_connection(std::move(client), from.plain);
    }
}

// While the process is out of descriptors, the listener stays readable: watching it would wake us
// again at once, forever. So stop watching it for a moment; the clients wait in the accept queue.
void EventServer::pause_accepting(Clock::time_point now) {
    for (const Listener& l : listeners_) poller_.forget(l.fd.get());
    accept_paused_ = true;
    accept_resume_at_ = now + kAcceptPause;
}

// A plain client reads why it is turned away. A TLS client (chapter 11) has not even sent its
// hello yet: a 503 in clear text would be garbage to it, and a handshake costs more than the
// refusal is meant to save. It gets the close, as from nginx.
void EventServer::refuse(Fd client, status::Refusal why, bool plain) {
    if (!transports_ || plain) return refuse_busy(std::move(client), why);
    status::count_refusal(why);
    if (narrate::on) narrate::line("fd " + std::to_string(client.get()) + ": no room; closed before any handshake (TLS: no 503 can be read yet)");
}

void EventServer::add_connection(Fd client, bool plain) {
    int fd = client.get();
    auto c = std::make_unique<Connection>();
    c->generation = next_generation_++;
    if (!poller_.watch(fd, c->generation, {true, false})) {
        beyond_poller_.failure("fd " + std::to_string(fd));
        refuse(std::move(client), status::Refusal::NoRoomFdSetsize, plain);
        return;
    }
    beyond_poller_.success();
    set_nodelay(fd);
    c->fd = std::move(client);
    c->watched = {true, false};
    c->parser = http::RequestParser(max_body_);
    c->timer.fd = fd;
    if (transports_ && !plain) {
        c->transport = transports_->wrap(fd);
        if (!c->transport) {
            poller_.forget(fd);
            return;  // no memory for a session: closed, as in refuse()
        }
        header_.arm(c->timer, turn_started_);  // the handshake's deadline: a stalled one costs this timer, nothing else
    } else {
        idle_.arm(c->timer, turn_started_);
    }
    status::move(c->counted, status::State::Idle);
    if (narrate::on) {
        if (c->transport)
            narrate::line("fd " + std::to_string(fd) + ": TLS handshake first, closed if not done in " +
                          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(header_.timeout).count()) + " ms");
        else
            narrate_state(*c, status::State::Idle, idle_.timeout);
    }
    if (by_fd_.size() <= static_cast<size_t>(fd)) by_fd_.resize(static_cast<size_t>(fd) + 1);
    by_fd_[fd] = std::move(c);
    ++count_;
}

void EventServer::update(Connection& c) {
    if (c.waiting == Waiting::Nothing) return close_connection(c);
    status::State state = state_of(c);
    if (narrate::on && state != c.counted) narrate_state(c, state, idle_.timeout);
    status::move(c.counted, state);
    if (c.more_to_read && !c.resume_queued) {
        resume_.push_back({c.fd.get(), c.generation, true, false, false});
        c.resume_queued = true;
    }
    Interest want = interest_of(c);
    if (!(want == c.watched)) {
        poller_.watch(c.fd.get(), c.generation, want);
        c.watched = want;
    }
    Clock::time_point now = turn_started_;
    if (c.waiting == Waiting::Job) {
        DeadlineList::disarm(c.timer);  // the server is the slow one now, not the client
    } else if (c.waiting == Waiting::Linger) {
        if (c.timer.list != &linger_) linger_.arm(c.timer, now);
    } else if (c.transport && !c.transport->established()) {
        if (c.timer.list != &header_) header_.arm(c.timer, now);  // from the accept, however it trickles
    } else if (c.waiting == Waiting::Request && c.parser.started() && !c.parser.head_done()) {
        if (c.timer.list != &header_) header_.arm(c.timer, now);  // from the first byte: trickling does not help
    } else {
        idle_.arm(c.timer, now);  // quiet between requests, mid-body, or waiting to write: since the last activity
    }
}

void EventServer::close_connection(Connection& c) {
    int fd = c.fd.get();
    poller_.forget(fd);
    DeadlineList::disarm(c.timer);
    status::move(c.counted, status::State::None);
    // TLS: close_notify, so the client can tell an end from a cut; after a cut, none, for the same reason.
    if (c.transport && !c.cut_short) c.transport->shut_down();
    if (narrate::on) narrate::line("fd " + std::to_string(fd) + " closed");
    by_fd_[fd].reset();  // closes the descriptor
    --count_;
}

void EventServer::expire_deadlines(Clock::time_point now) {
    for (DeadlineList* list : {&idle_, &header_, &linger_}) {
        while (DeadlineHook* hook = list->expired(now)) {
            Connection& c = *by_fd_[hook->fd];
            deadline_passed(c, list == &idle_ ? Deadline::Idle : list == &header_ ? Deadline::Header : Deadline::Linger);
            close_connection(c);
        }
    }
    for (ExtraDeadlines& extra : extra_deadlines_)
        while (DeadlineHook* hook = extra.list->expired(now)) {
            DeadlineList::disarm(*hook);
            extra.on_expired(*hook);
        }
}

int EventServer::next_timeout_ms(Clock::time_point now) const {
    Clock::time_point next = Clock::time_point::max();
    for (const DeadlineList* list : {&idle_, &header_, &linger_})
        if (list->head) next = std::min(next, list->head->deadline);
    for (const ExtraDeadlines& extra : extra_deadlines_)
        if (extra.list->head) next = std::min(next, extra.list->head->deadline);
    if (accept_paused_) next = std::min(next, accept_resume_at_);
    if (stopping_) next = std::min(next, give_up_at_);
    if (next == Clock::time_point::max()) return -1;
    if (next <= now) return 0;
    // Round up: waking a little early would find nothing due and spin with zero timeouts.
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(next - now).count());
}

}  // namespace one
