#include "refuse.hpp"

#include "response.hpp"

#include <sys/socket.h>

namespace one {

void refuse_busy(Fd client, std::string_view why) {
    std::string bytes;
    http::append_response(http::error_response(503, why), bytes);
    write_some(client.get(), bytes);  // a fresh socket's send buffer takes a few hundred bytes at once
    ::shutdown(client.get(), SHUT_WR);
    char sink[4096];
    while (retry_eintr([&] { return ::recv(client.get(), sink, sizeof sink, MSG_DONTWAIT); }) > 0) {
    }
}

}  // namespace one
