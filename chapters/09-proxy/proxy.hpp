// proxy: chapter 09's answer to a request is another server's. The loop hands every request to
// this door (common/offload.hpp, as chapter 08 hands slow ones to its pool); the proxy sends it to
// a backend over a connection of its own, watched by the same loop, and gives the response back.
//
// What the loop's client side already does, it still does: pipelined requests are answered in
// order (the ones after a request that went to a backend wait for its answer), a client that
// leaves has its answer dropped (the generation check), the parser refuses what it cannot frame
// for certain, so nothing ambiguous reaches a backend.
#pragma once

#include "backends.hpp"
#include "upstream.hpp"

#include "common/event_server.hpp"
#include "common/log.hpp"
#include "common/offload.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace one::proxy {

struct ProxyOptions {
    std::vector<std::string> upstreams;  // --upstream HOST:PORT
    std::vector<std::string> routes;     // --route PREFIX=HOST:PORT
    Balance balance = Balance::RoundRobin;
    int keepalive = 32;                  // idle connections kept per backend, in each worker
    int fail_timeout_s = 10;             // a failed backend is left out this long
    std::string health_path;             // --health-check PATH; empty: none
    int health_interval_ms = 2000;
    int connect_timeout_ms = 2000;
    int upstream_timeout_ms = 60000;     // between two reads of a response: 504 after that
    size_t buffer = 1 << 20;             // responses up to this long are read whole, then sent
};

class Proxy final : public Offload {
public:
    explicit Proxy(const ProxyOptions& options);
    ~Proxy() override;

    // Takes every request the loop of `server` reads, and watches connections to backends with it.
    void serve(EventServer& server);

    std::optional<http::Response> answer_later(int fd, uint32_t generation, const http::Request& request,
                                               std::span<const char> raw) override;
    bool warm_later(int, uint32_t, const http::FileBody&, size_t) override { return false; }  // no files here
    const char* narrated_as() const override { return "forwarded to a backend"; }

    std::string summary() const;

    // From the links and relays of upstream.hpp.
    void on_link_ready(Link& link);
    void relay_drained(Exchange& x);
    void relay_abandoned(Exchange& x);

private:
    enum class Failure : uint8_t { Refused, ConnectTimeout, Reset, Timeout, BadResponse, Truncated };

    std::optional<http::Response> dispatch(Exchange& x);
    Link* connect_to(Backend& b, int& err);
    Link* take_idle(Backend& b);
    void attach(Exchange& x, Link& link);
    void advance(Exchange& x);
    bool send_request(Exchange& x);
    bool read_response(Exchange& x);
    bool parse_response(Exchange& x);
    bool take_head(Exchange& x, size_t consumed);
    void relay_bytes(Exchange& x, std::string_view decoded);
    void wake_client(Relay& relay);
    void start_relay(Exchange& x);
    void abandon(Exchange& x);
    http::Response response_of(Exchange& x);
    void complete(Exchange& x);
    void fail(Exchange& x, Failure failure, const std::string& detail);
    void deliver(Exchange& x, http::Response response);
    void end(Exchange& x);
    void release(Link& link, bool reusable);
    void close_link(Link& link);
    void watch(Link& link, Interest interest);
    void backend_failed(Backend& b, const std::string& detail);
    void link_timed_out(DeadlineHook& hook);
    void check_backends();
    void check_done(Backend& b, bool healthy);
    std::string client_address(int fd, uint32_t generation);

    ProxyOptions options_;
    Backends backends_;
    EventServer* server_ = nullptr;
    std::vector<std::unique_ptr<Link>> links_;  // by descriptor: every connection to a backend
    std::unordered_map<Exchange*, std::unique_ptr<Exchange>> exchanges_;
    Exchange* answering_now_ = nullptr;  // inside answer_later: its answer is returned, not delivered...
    std::optional<http::Response> immediate_;  // ...and kept here until then
    Exchange* busy_ = nullptr;           // being worked on: a client that leaves now is noted, not acted on
    DeadlineList connecting_, awaiting_, pooled_, health_;
    DeadlineHook health_timer_;
    std::string scratch_;                // every read from a backend lands here first
    std::string decoded_;                // a streamed body's bytes, before they are framed for the client
    std::unique_ptr<http::ResponseHead> head_;  // 3 KiB of header views: one, reused
    std::vector<std::pair<uint32_t, std::string>> peers_;  // by client descriptor: (generation, address)

    struct Counters {
        size_t requests = 0, opened = 0, reused = 0, retries = 0, bad_gateway = 0, timeouts = 0, dropped = 0, streamed = 0;
    } counters_;
    BurstLog no_backend_{"no backend is up: answering 502"};
    BurstLog timeouts_log_{"a backend did not answer within --upstream-timeout: answering 504"};
    BurstLog failed_log_{"a backend failed mid-request: answering 502"};
    BurstLog out_of_fds_{"no descriptor for a connection to a backend: answering 503"};
};

}  // namespace one::proxy
