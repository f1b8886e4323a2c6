#include "refuse.hpp"

#include "response.hpp"

#include <sys/socket.h>

namespace one {

namespace {

std::string_view reason(status::Refusal why) {
    switch (why) {
    case status::Refusal::NoRoomFdSetsize: return "the server cannot watch this connection";
    case status::Refusal::NoRoomThreads: return "no thread available for this connection";
    default: return "the server is at its connection limit";
    }
}

}  // namespace

void refuse_busy(Fd client, status::Refusal why) {
    std::string bytes;
    http::append_response(http::error_response(503, reason(why), why), bytes);
    write_some(client.get(), bytes);  // a fresh socket's send buffer takes a few hundred bytes at once
    ::shutdown(client.get(), SHUT_WR);
    char sink[4096];
    while (retry_eintr([&] { return ::recv(client.get(), sink, sizeof sink, MSG_DONTWAIT); }) > 0) {
    }
}

}  // namespace one
