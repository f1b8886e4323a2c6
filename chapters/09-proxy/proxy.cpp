// proxy: one request's trip to a backend and back, on the loop's thread. See proxy.hpp.
//
//   answer_later -> dispatch: pick a backend, take an idle connection or open one
//   advance:      write the request, then read the response as it comes
//   complete:     the connection back to the pool, the answer to the client (job_done)
//   fail:         retry where that is safe, else 502 / 504
#include "proxy.hpp"

#include "forward.hpp"

#include "common/narrate.hpp"
#include "common/status.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>

namespace one::proxy {
namespace {

constexpr auto kPoolIdle = std::chrono::seconds(30);  // well inside our backends' 60 s: we close, not they
constexpr size_t kReadSize = 64 * 1024;

// A HEAD response's Content-Length: the length a GET would have had, for the client to see.
std::optional<uint64_t> declared_content_length(const http::ResponseHead& h) {
    std::string_view value = h.header("content-length");
    uint64_t n = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || error != std::errc() || end != value.data() + value.size()) return std::nullopt;
    return n;
}

bool is_idempotent(std::string_view method) {
    for (std::string_view m : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
        if (method == m) return true;
    return false;
}

http::Response gateway_error(int status, std::string_view why, bool keep_alive) {
    std::optional<status::Refusal> reason;
    if (status == 503) reason = status::Refusal::NoRoomDescriptors;  // the one 503 here: no descriptor for a backend
    http::Response r = http::error_response(status, why, reason);
    r.keep_alive = keep_alive;  // the client's connection is fine; only the backend failed
    return r;
}

// A long answer held whole, handed to the client's connection in one piece: its output takes
// the body's memory as it is, where appending it after the head would copy it into fresh memory
// (for 16 MiB, four thousand page faults and as much copying as the bytes' trip through the kernel).
class HeldBody final : public http::BodyStream {
public:
    explicit HeldBody(std::string body) : body_(std::move(body)) {}
    Pull pull(std::string& out) override {
        out.swap(body_);
        return Pull::End;
    }

private:
    std::string body_;
};
constexpr size_t kHeldAsStream = 64 * 1024;  // shorter answers are appended: a copy costs less than the call

void append_chunk(std::string& out, std::string_view bytes) {
    if (bytes.empty()) return;
    char size[20];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
    out.append(size, static_cast<size_t>(n));
    out += bytes;
    out += "\r\n";
}

}  // namespace

Proxy::Proxy(const ProxyOptions& options)
    : options_(options),
      backends_(options.upstreams, options.routes),
      connecting_(std::chrono::milliseconds(options.connect_timeout_ms)),
      awaiting_(std::chrono::milliseconds(options.upstream_timeout_ms)),
      pooled_(kPoolIdle),
      health_(std::chrono::milliseconds(options.health_interval_ms)),
      scratch_(kReadSize, '\0'),
      head_(std::make_unique<http::ResponseHead>()) {}

Proxy::~Proxy() = default;

void Proxy::serve(EventServer& server) {
    server_ = &server;
    server.hand_off_to(*this, true);
    for (DeadlineList* list : {&connecting_, &awaiting_, &pooled_})
        server.add_deadlines(*list, [this](DeadlineHook& hook) { link_timed_out(hook); });
    if (!options_.health_path.empty()) {
        server.add_deadlines(health_, [this](DeadlineHook&) { check_backends(); });
        health_.arm(health_timer_, Clock::now());
    }
}

std::optional<http::Response> Proxy::answer_later(int fd, uint32_t generation, const http::Request& request,
                                                  std::span<const char>) {
    auto owned = std::make_unique<Exchange>();
    Exchange& x = *owned;
    x.client_fd = fd;
    x.client_generation = generation;
    x.client_keep_alive = request.keep_alive;
    x.client_http10 = request.minor_version == 0;
    x.idempotent = is_idempotent(request.method);
    x.head_request = request.method == "HEAD";
    x.parser = http::ResponseParser(x.head_request);
    x.group = &backends_.group_for(request.path);
    // Both arms string_view: with "" against a std::string, ?: would make a temporary string to view.
    std::string_view fallback_host = x.group->members.empty() ? std::string_view() : std::string_view(x.group->members[0]->name);
    append_upstream_request(request, client_address(fd, generation), fallback_host, options_.keepalive > 0, x.wire);
    ++counters_.requests;
    exchanges_.emplace(&x, std::move(owned));
    // Whatever is decided before this returns (no backend up, every connect refused at once, a
    // pooled connection found closed) is answered by returning it: the client's connection is not
    // waiting for a job_done() yet.
    answering_now_ = &x;
    std::optional<http::Response> now = dispatch(x);
    if (!now && !x.link->connecting) advance(x);  // connected (pooled, or at once): write the request now
    answering_now_ = nullptr;
    if (!now && immediate_) now = std::exchange(immediate_, std::nullopt);
    if (now || x.ended) exchanges_.erase(&x);
    return now;
}

// Sends `x` to the next backend of its group that is up and not yet tried. Returns the answer to
// give instead when none is left (502) or no descriptor is (503).
std::optional<http::Response> Proxy::dispatch(Exchange& x) {
    for (;;) {
        Backend* b = x.group->pick(options_.balance, x.tried, server_->turn_started());
        if (!b) {
            no_backend_.failure(x.tried.empty() ? "none is up" : std::to_string(x.tried.size()) + " tried");
            ++counters_.bad_gateway;
            return gateway_error(502, "no backend is available", x.client_keep_alive);
        }
        Link* link = take_idle(*b);
        int err = 0;
        if (!link) link = connect_to(*b, err);
        if (link) {
            attach(x, *link);
            return std::nullopt;
        }
        if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
            out_of_fds_.failure(std::strerror(err));
            return gateway_error(503, "out of descriptors for backend connections", x.client_keep_alive);
        }
        backend_failed(*b, std::string("connect: ") + std::strerror(err));  // refused at once: the next one
        x.tried.push_back(b);
        ++counters_.retries;
    }
}

// The newest idle connection to `b`: the one least likely to have been closed by the backend.
Link* Proxy::take_idle(Backend& b) {
    if (b.idle.empty()) return nullptr;
    Link* link = b.idle.back();
    b.idle.pop_back();
    DeadlineList::disarm(link->timer);
    ++counters_.reused;
    return link;
}

// A new non-blocking connection to `b`, connected or on its way; null with `err` set on failure.
Link* Proxy::connect_to(Backend& b, int& err) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        err = errno;
        return nullptr;
    }
    int r = retry_eintr([&] { return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&b.address), sizeof b.address); });
    if (r < 0 && errno != EINPROGRESS) {
        err = errno;
        return nullptr;
    }
    set_nodelay(fd.get());
    auto n = static_cast<size_t>(fd.get());
    if (links_.size() <= n) links_.resize(n + 1);
    links_[n] = std::make_unique<Link>(*this, b, std::move(fd));
    links_[n]->connecting = r < 0;
    ++counters_.opened;
    ++b.opened;
    return links_[n].get();
}

// Gives `link` to `x`. A connection still connecting is watched for writable (its connect has
// ended, one way or the other); the caller writes to one that is connected.
void Proxy::attach(Exchange& x, Link& link) {
    x.link = &link;
    x.sent = 0;
    link.exchange = &x;
    ++link.backend.in_flight;
    ++link.backend.requests;
    if (narrate::on)
        narrate::line((x.client_fd < 0 ? std::string("a health check") : "fd " + std::to_string(x.client_fd) + "'s request") +
                      " -> " + link.backend.name + " on fd " + std::to_string(link.fd.get()) +
                      (link.reused ? ", an idle connection kept from before" : link.connecting ? ", a new connection, connecting" : ", a new connection"));
    if (link.connecting) {
        connecting_.arm(link.timer, server_->turn_started());
        watch(link, {false, true});
    }
}

// A pooled connection is watched for readable in the pool, while its request is written (at
// once, almost always) and while the response is awaited: the poller is told only when that changes.
void Proxy::watch(Link& link, Interest interest) {
    if (link.watched == interest) return;
    if (server_->watch_other(link.fd.get(), link.generation, interest, link)) link.watched = interest;
    else log_line("proxy: cannot watch backend connection fd " + std::to_string(link.fd.get()));
}

void Link::on_ready(const Fired&) { proxy.on_link_ready(*this); }

void Proxy::on_link_ready(Link& link) {
    if (!link.exchange) return close_link(link);  // idle in the pool: the backend closed it (or spoke unasked)
    Exchange& x = *link.exchange;
    if (link.connecting) {
        int error = 0;
        socklen_t len = sizeof error;
        ::getsockopt(link.fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
        if (error) return fail(x, Failure::Refused, std::string("connect: ") + std::strerror(error));
        link.connecting = false;
        DeadlineList::disarm(link.timer);
    }
    advance(x);
}

// Moves `x` on as far as it goes without waiting: the request out, the response in. Its client
// may leave meanwhile (a relayed body's client, when a write to it fails): that is acted on after.
void Proxy::advance(Exchange& x) {
    busy_ = &x;
    bool going = x.sent < x.wire.size() ? send_request(x) : read_response(x);
    busy_ = nullptr;
    if (going && x.client_gone) abandon(x);
}

// Writes what is left of the request. False once `x` has ended (or moved on to a retry).
bool Proxy::send_request(Exchange& x) {
    Link& link = *x.link;
    IoResult r = write_some(link.fd.get(), std::string_view(x.wire).substr(x.sent));
    if (!r.ok() && !r.would_block()) {
        fail(x, Failure::Reset, std::string("send: ") + std::strerror(r.error));
        return false;
    }
    if (r.ok()) x.sent += static_cast<size_t>(r.n);
    if (x.sent < x.wire.size()) {
        watch(link, {false, true});
        return true;
    }
    awaiting_.arm(link.timer, server_->turn_started());  // the response's first byte is due
    watch(link, {true, false});
    return true;
}

// Reads what the backend has sent and makes what it can of it. False once `x` has ended.
bool Proxy::read_response(Exchange& x) {
    Link& link = *x.link;
    IoResult r = read_some(link.fd.get(), scratch_);
    if (r.would_block()) return true;
    if (!r.ok()) {
        fail(x, x.any_byte ? Failure::Truncated : Failure::Reset, std::string("read: ") + std::strerror(r.error));
        return false;
    }
    if (r.n == 0) {
        if (!x.any_byte) fail(x, Failure::Reset, "closed before the response began");
        else if (x.head_done && x.parser.end_of_input()) complete(x);  // a body that ends with the connection
        else fail(x, Failure::Truncated, "closed in the middle of the response");
        return false;
    }
    x.any_byte = true;
    awaiting_.arm(link.timer, server_->turn_started());  // the timeout runs between two reads, as nginx's
    x.in.append(scratch_.data(), static_cast<size_t>(r.n));
    return parse_response(x);
}

bool Proxy::parse_response(Exchange& x) {
    while (!x.head_done) {
        http::ParseResult p = x.parser.parse_head(x.in, *head_);
        if (p.incomplete()) return true;
        if (p.error()) {
            fail(x, Failure::BadResponse, std::string("response head: ") + p.why);
            return false;
        }
        if (!take_head(x, p.consumed)) return false;
    }
    decoded_.clear();
    http::BodyStep step = x.parser.parse_body(x.in, x.relay ? decoded_ : x.body);
    x.in.erase(0, step.consumed);
    if (step.error) {
        fail(x, Failure::BadResponse, std::string("response body: ") + step.why);
        return false;
    }
    if (x.relay) relay_bytes(x, decoded_);
    else if (x.body.size() > options_.buffer) start_relay(x);
    if (step.done) {
        complete(x);
        return false;
    }
    if (x.relay && x.relay->waiting.size() >= kRelayHighWater && x.link) {
        // The client reads slower than the backend sends: stop reading until it has caught up.
        // The backend's writes then fill the socket buffers and wait, which is TCP's backpressure.
        x.reading_paused = true;
        DeadlineList::disarm(x.link->timer);  // the slow one is the client now, and its own timeout runs
        watch(*x.link, {});
    }
    return true;
}

// A head has been parsed (its views are in head_). An interim (1xx) one is kept to pass on, and
// parsing goes on; a final one decides how the body comes. False once `x` has ended.
bool Proxy::take_head(Exchange& x, size_t consumed) {
    const http::ResponseHead& h = *head_;
    if (h.status < 200) {
        if (h.status == 101) {
            fail(x, Failure::BadResponse, "101 Switching Protocols: this proxy passes on no upgrades");
            return false;
        }
        // 100 Continue answered an Expect we did not send; others (103 Early Hints) go to the client.
        if (h.status != 100 && !x.client_http10)
            x.interim += "HTTP/1.1 " + std::to_string(h.status) + " " + std::string(h.reason) + "\r\n" +
                         client_response_fields(h) + "\r\n";
        x.in.erase(0, consumed);
        x.parser = http::ResponseParser(x.head_request);
        return true;
    }
    x.head_done = true;
    x.status = h.status;
    if (narrate::on) narrate::line("fd " + std::to_string(x.link->fd.get()) + ": the backend answers " + std::to_string(h.status));
    x.reason = h.reason;
    x.fields = client_response_fields(h);
    x.backend_keep_alive = h.keep_alive;
    if (x.parser.framing() == http::BodyFraming::Length) x.declared_length = x.parser.content_length();
    else if (x.head_request) x.declared_length = declared_content_length(h);
    x.in.erase(0, consumed);
    if (x.parser.framing() == http::BodyFraming::None) {
        complete(x);
        return false;
    }
    if (x.parser.framing() == http::BodyFraming::Length) {
        if (x.parser.content_length() > options_.buffer) start_relay(x);
        else x.body.reserve(x.parser.content_length());  // held whole: one allocation, not a doubling series
    }
    return true;
}

http::Response Proxy::response_of(Exchange& x) {
    http::Response r;
    r.status = x.status;
    r.reason = std::move(x.reason);
    r.content_type = "";  // the backend's, if it sent one, is among the fields
    r.extra_headers = std::move(x.fields);
    r.interim = std::move(x.interim);
    r.body = std::move(x.body);
    r.keep_alive = x.client_keep_alive;
    r.head_only = x.head_request;
    if (x.head_request) r.declared_length = x.declared_length;
    return r;
}

// The response is too long to hold: its head goes to the client now, and its body follows
// through a Relay as it arrives, framed for the client (Content-Length when the backend gave
// one, else chunked, or the end of the connection for an HTTP/1.0 client).
void Proxy::start_relay(Exchange& x) {
    ++counters_.streamed;
    http::Response r = response_of(x);
    std::string held = std::move(r.body);
    r.body.clear();
    if (x.declared_length) {
        x.framing = ClientFraming::Length;
        r.declared_length = x.declared_length;
    } else if (x.client_http10) {
        x.framing = ClientFraming::Close;
        r.keep_alive = false;
    } else {
        x.framing = ClientFraming::Chunked;
        r.chunked = true;
    }
    auto relay = std::make_unique<Relay>(*this, x, x.client_fd, x.client_generation);
    x.relay = relay.get();
    relay_bytes(x, held);
    r.stream = std::move(relay);
    deliver(x, std::move(r));  // a client gone already destroys the relay here: abandon() follows in advance()
}

void Proxy::relay_bytes(Exchange& x, std::string_view decoded) {
    if (x.framing == ClientFraming::Chunked) append_chunk(x.relay->waiting, decoded);
    else x.relay->waiting += decoded;
    wake_client(*x.relay);
}

// The client's connection found nothing to send last time and waits: tell it there is more.
// It may send, fail, and close at once, destroying the relay: nothing may touch it after this.
void Proxy::wake_client(Relay& relay) {
    if (!relay.client_waits || (relay.waiting.empty() && !relay.ended && !relay.broken)) return;
    relay.client_waits = false;
    server_->job_done(relay.client_fd, relay.client_generation, std::nullopt);
}

void Proxy::complete(Exchange& x) {
    Link& link = *x.link;
    Backend& b = link.backend;
    bool reusable = x.backend_keep_alive && x.in.empty();  // nothing unasked-for behind the response
    x.link = nullptr;
    release(link, reusable);
    if (x.client_fd < 0) {
        check_done(b, x.status >= 200 && x.status < 400);
        return end(x);
    }
    b.down_log->success();  // each of these prints only when it ends a burst of failures
    failed_log_.success();
    timeouts_log_.success();
    no_backend_.success();
    if (Relay* relay = x.relay) {
        x.relay = nullptr;
        relay->detach();
        if (x.framing == ClientFraming::Chunked) relay->waiting += "0\r\n\r\n";
        relay->ended = true;
        end(x);
        return wake_client(*relay);
    }
    http::Response answer = response_of(x);
    if (answer.body.size() > kHeldAsStream && !answer.head_only) {
        answer.declared_length = answer.body.size();
        answer.stream = std::make_unique<HeldBody>(std::move(answer.body));
        answer.body.clear();
    }
    deliver(x, std::move(answer));
    end(x);
}

// Something went wrong with `x`'s backend. Retry where nothing can have happened twice: a connect
// that failed (nothing was sent), or a connection that closed before any byte of the response
// when the method is idempotent. Otherwise 502 (504 for a timeout); and nothing is retried once
// the client has begun to receive the response.
void Proxy::fail(Exchange& x, Failure failure, const std::string& detail) {
    Link& link = *x.link;
    Backend& b = link.backend;
    // A pooled connection that the backend closed as we reused it says nothing about the backend.
    bool stale = link.reused && failure == Failure::Reset && !x.any_byte;
    if (narrate::on) narrate::line("fd " + std::to_string(link.fd.get()) + ": " + detail + (stale ? " (an idle connection the backend had closed)" : ""));
    x.link = nullptr;
    release(link, false);
    if (x.client_fd < 0) {
        check_done(b, false);
        return end(x);
    }
    bool dead = failure == Failure::Refused || failure == Failure::ConnectTimeout || failure == Failure::Reset;
    if (dead && !stale) backend_failed(b, detail);
    bool nothing_sent = failure == Failure::Refused || failure == Failure::ConnectTimeout;
    if (!x.any_byte && (nothing_sent || (failure == Failure::Reset && x.idempotent))) {
        if (!stale) x.tried.push_back(&b);
        ++counters_.retries;
        x.in.clear();
        x.parser = http::ResponseParser(x.head_request);
        std::optional<http::Response> answer = dispatch(x);
        if (!answer) {
            if (!x.link->connecting) watch(*x.link, {false, true});  // written when the loop says it may be
            return;
        }
        deliver(x, std::move(*answer));
        return end(x);
    }
    int status = failure == Failure::Timeout ? 504 : 502;
    if (status == 504) {
        ++counters_.timeouts;
        timeouts_log_.failure(b.name);
    } else {
        ++counters_.bad_gateway;
        failed_log_.failure(b.name + ": " + detail + (x.any_byte || x.idempotent ? "" : " (not retried: not idempotent)"));
    }
    if (Relay* relay = x.relay) {  // the head is out already: all the client can learn is that the body broke off
        x.relay = nullptr;
        relay->detach();
        relay->broken = true;
        end(x);
        return wake_client(*relay);
    }
    deliver(x, gateway_error(status, status == 504 ? "the backend did not answer in time" : "the backend failed", x.client_keep_alive));
    end(x);
}

void Proxy::deliver(Exchange& x, http::Response response) {
    if (narrate::on) narrate::line("fd " + std::to_string(x.client_fd) + " gets its answer: " + std::to_string(response.status));
    if (&x == answering_now_) {
        immediate_ = std::move(response);
        return;
    }
    if (!server_->job_done(x.client_fd, x.client_generation, std::move(response))) ++counters_.dropped;
}

void Proxy::end(Exchange& x) {
    if (&x == answering_now_) {
        x.ended = true;  // answer_later frees it
        return;
    }
    exchanges_.erase(&x);
}

// The client of a relayed body has gone (its connection closed, destroying the relay). The
// backend's connection is mid-response, so it cannot carry another request: close it.
void Proxy::abandon(Exchange& x) {
    if (x.link) {
        Link& link = *x.link;
        x.link = nullptr;
        release(link, false);
    }
    end(x);
}

void Proxy::relay_abandoned(Exchange& x) {
    x.relay = nullptr;
    if (&x == busy_) x.client_gone = true;  // advance() is still working on it, and ends it after
    else abandon(x);
}

void Proxy::relay_drained(Exchange& x) {
    if (!x.reading_paused || !x.link) return;
    x.reading_paused = false;
    awaiting_.arm(x.link->timer, server_->turn_started());
    watch(*x.link, {true, false});
}

Relay::~Relay() {
    if (exchange_) proxy_.relay_abandoned(*exchange_);
}

http::BodyStream::Pull Relay::pull(std::string& out) {
    if (!waiting.empty()) {
        out.swap(waiting);
        waiting.clear();
        if (ended) return Pull::End;
        if (exchange_) proxy_.relay_drained(*exchange_);
        return Pull::More;
    }
    if (broken) return Pull::Broken;
    if (ended) return Pull::End;
    client_waits = true;
    return Pull::Wait;
}

// The link's exchange is over. A connection that can carry another request goes back to its
// backend's pool, watched for readable: a backend closing it is then seen at once.
void Proxy::release(Link& link, bool reusable) {
    --link.backend.in_flight;
    link.exchange = nullptr;
    link.reused = true;
    if (!reusable || server_->stopping() || link.backend.idle.size() >= static_cast<size_t>(options_.keepalive)) {
        if (narrate::on) narrate::line("fd " + std::to_string(link.fd.get()) + " closed: not kept for another request");
        return close_link(link);
    }
    if (narrate::on) narrate::line("fd " + std::to_string(link.fd.get()) + " back to " + link.backend.name + "'s idle connections");
    link.backend.idle.push_back(&link);
    pooled_.arm(link.timer, server_->turn_started());
    watch(link, {true, false});
}

void Proxy::close_link(Link& link) {
    std::vector<Link*>& idle = link.backend.idle;
    idle.erase(std::remove(idle.begin(), idle.end(), &link), idle.end());
    DeadlineList::disarm(link.timer);
    int fd = link.fd.get();
    server_->forget_other(fd);
    links_[static_cast<size_t>(fd)].reset();  // closes it
}

// Passive health: a backend that refused, reset or never answered a connect is left out for
// --fail-timeout seconds. Its idle connections go too: they lead to the same dead process.
void Proxy::backend_failed(Backend& b, const std::string& detail) {
    ++b.failures;
    b.down_until = server_->turn_started() + std::chrono::seconds(options_.fail_timeout_s);
    b.down_log->failure(detail + "; left out for " + std::to_string(options_.fail_timeout_s) + " s");
    while (!b.idle.empty()) close_link(*b.idle.back());
}

void Proxy::link_timed_out(DeadlineHook& hook) {
    Link& link = *links_[static_cast<size_t>(hook.fd)];
    if (!link.exchange) return close_link(link);  // idle in the pool for kPoolIdle
    Exchange& x = *link.exchange;
    if (link.connecting) fail(x, Failure::ConnectTimeout, "connect: no answer within --connect-timeout");
    else fail(x, Failure::Timeout, "no response within --upstream-timeout");
}

// Active health: every --health-interval, GET --health-check from each backend on a new
// connection. A 2xx or 3xx brings a backend back at once; anything else leaves it out.
void Proxy::check_backends() {
    health_.arm(health_timer_, server_->turn_started());
    for (auto& b : backends_.all()) {
        if (b->checking) continue;
        int err = 0;
        Link* link = connect_to(*b, err);
        if (!link) {
            check_done(*b, false);
            continue;
        }
        auto owned = std::make_unique<Exchange>();
        Exchange& x = *owned;
        x.wire = "GET " + options_.health_path + " HTTP/1.1\r\nHost: " + b->name +
                 "\r\nUser-Agent: one-loop health check\r\nConnection: close\r\n\r\n";
        exchanges_.emplace(&x, std::move(owned));
        b->checking = true;
        attach(x, *link);
        if (!link->connecting) watch(*link, {false, true});
    }
}

void Proxy::check_done(Backend& b, bool healthy) {
    b.checking = false;
    if (!healthy) return backend_failed(b, "health check of " + options_.health_path + " failed");
    if (!b.up(server_->turn_started())) log_line("proxy: backend " + b.name + " is up again (health check)");
    b.down_until = {};
    b.down_log->success();
}

// The client's address, for X-Forwarded-For: asked of the kernel once per connection.
std::string Proxy::client_address(int fd, uint32_t generation) {
    auto n = static_cast<size_t>(fd);
    if (peers_.size() <= n) peers_.resize(n + 1);
    auto& [known, address] = peers_[n];
    if (known == generation) return address;
    known = generation;
    address = peer_address(fd, false);  // "::1" for an IPv6 client: X-Forwarded-For takes it bare
    return address;
}

std::string Proxy::summary() const {
    const Counters& c = counters_;
    std::string text = std::to_string(c.requests) + " requests, " + std::to_string(c.opened) + " connections opened to backends, " +
                       std::to_string(c.reused) + " reused, " + std::to_string(c.retries) + " retries, " +
                       std::to_string(c.bad_gateway) + " answered 502, " + std::to_string(c.timeouts) + " answered 504, " +
                       std::to_string(c.streamed) + " relayed (longer than --buffer), " + std::to_string(c.dropped) +
                       " answers dropped (client gone)";
    for (const auto& b : const_cast<Backends&>(backends_).all())
        text += "; " + b->name + ": " + std::to_string(b->requests) + " requests, " + std::to_string(b->opened) + " opened, " +
                std::to_string(b->failures) + " failures";
    return text;
}

}  // namespace one::proxy
