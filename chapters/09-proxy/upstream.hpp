// upstream: the proxy's side of the proxy. A Link is one connection to a backend; an Exchange is
// one client request on its way there and its response on the way back; a Relay carries the
// body of a response too long to hold to the client while it is still arriving.
//
//   client --request--> [Connection: common/, as in every chapter]
//                            | answer_later(): Offload, as chapter 08's pool
//                            v
//                        [Exchange] --wire bytes--> [Link] --> backend
//                            ^                         |
//                            +------- response --------+
//                            | job_done(): the answer, in order, to the client's connection
//
// Nothing here points at the client's Connection: an Exchange holds its identity (fd and
// generation), as a chapter 08 job does, so an answer whose client has gone is dropped.
#pragma once

#include "backends.hpp"
#include "common/event_server.hpp"
#include "common/response_parser.hpp"

#include <optional>
#include <string>
#include <vector>

namespace one::proxy {

class Proxy;
struct Exchange;

// One connection to a backend, idle in its backend's pool or carrying one exchange.
struct Link final : Watched {
    Proxy& proxy;
    Backend& backend;
    Fd fd;
    uint32_t generation = 0;     // given by the loop (watch_other), like a client connection's
    bool connecting = false;     // connect() is under way: writable means it has finished
    bool reused = false;         // it has carried an exchange before: the backend may have closed it since
    std::optional<Interest> watched;  // what the poller was last told: unchanged interest costs no epoll_ctl
    Exchange* exchange = nullptr;  // null while idle in the pool
    DeadlineHook timer;          // connect, response, or idle-in-pool deadline

    Link(Proxy& p, Backend& b, Fd socket) : proxy(p), backend(b), fd(std::move(socket)) { timer.fd = fd.get(); }
    void on_ready(const Fired& fired) override;  // proxy.hpp
};

// The body of a long response, from the exchange (which appends) to the client's connection
// (which pulls, whenever its socket has room). The exchange stops reading from the backend while
// more than kRelayHighWater bytes wait here: a client that reads slowly slows the backend's
// connection down, and never makes the proxy buffer without bound.
inline constexpr size_t kRelayHighWater = 256 * 1024;

class Relay final : public http::BodyStream {
public:
    Relay(Proxy& proxy, Exchange& exchange, int fd, uint32_t generation)
        : client_fd(fd), client_generation(generation), proxy_(proxy), exchange_(&exchange) {}
    ~Relay() override;                   // the client has gone, or has it all: proxy.hpp
    Pull pull(std::string& out) override;

    const int client_fd;                 // whose body this is, to wake its connection
    const uint32_t client_generation;
    std::string waiting;                 // bytes, already framed for the client, not yet pulled
    bool ended = false;                  // the last bytes are in `waiting`
    bool broken = false;                 // the backend failed mid-body
    bool client_waits = false;           // the last pull found nothing: wake the client when there is
    void detach() { exchange_ = nullptr; }  // the exchange is over; what `waiting` holds is all there is

private:
    Proxy& proxy_;
    Exchange* exchange_;
};

// How the client's copy of a streamed body is framed.
enum class ClientFraming : uint8_t { Length, Chunked, Close };

struct Exchange {
    // The client, by identity only; client_fd -1 for an active health check, which has none.
    int client_fd = -1;
    uint32_t client_generation = 0;
    bool client_keep_alive = true;
    bool client_http10 = false;
    std::string wire;                    // the request as the backend gets it (forward.hpp)
    bool idempotent = true;              // GET, HEAD, PUT, DELETE, OPTIONS, TRACE: may be sent twice
    bool head_request = false;
    Group* group = nullptr;
    std::vector<Backend*> tried;         // backends this request failed on
    Link* link = nullptr;
    size_t sent = 0;                     // bytes of `wire` written to the link
    // The response, as it arrives.
    std::string in;                      // bytes read and not yet parsed
    bool any_byte = false;               // the backend has sent something: no retry from here on
    http::ResponseParser parser;
    bool head_done = false;              // then what the head said, kept (the head's bytes are gone):
    int status = 0;
    std::string reason;
    std::string fields;                  //   the header lines the client gets (forward.hpp)
    bool backend_keep_alive = false;     //   the backend keeps the connection open afterwards
    std::optional<uint64_t> declared_length;  // its Content-Length, if any
    std::string interim;                 // 1xx responses to pass on before the final one
    std::string body;                    // decoded body bytes, held until the response is complete
    Relay* relay = nullptr;              // once streaming: where the body goes instead; owned by the client's connection
    ClientFraming framing = ClientFraming::Length;
    bool reading_paused = false;         // the relay is full: not watching the link for readable
    bool client_gone = false;            // the client's connection closed while this exchange was busy
    bool ended = false;                  // answered inside answer_later: freed when that returns
};

}  // namespace one::proxy
