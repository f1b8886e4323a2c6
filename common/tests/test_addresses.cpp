// sys's addresses: IPv4 and IPv6 parsed and written as a URL writes them, listeners on ::1 and on
// :: (which takes IPv4 clients too), and the plain refusal of anything that is not an address.
#include "common/sys.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <system_error>

using namespace one;

namespace {

// Connects a blocking client to host:port; true if the connection was made.
bool can_connect(const std::string& host, int port) {
    SocketAddress address = parse_address(host, port);
    Fd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    return fd && ::connect(fd.get(), address.get(), address.length) == 0;
}

int v6_only(int fd) {
    int value = -1;
    socklen_t length = sizeof value;
    ::getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &value, &length);
    return value;
}

}  // namespace

TEST_SUITE("addresses") {
    TEST_CASE("IPv4 and IPv6 addresses are parsed and written back, IPv6 in brackets") {
        SocketAddress v4 = parse_address("localhost", 8080);
        CHECK(v4.family() == AF_INET);
        CHECK(v4.length == sizeof(sockaddr_in));
        CHECK(format_address(v4.get()) == "127.0.0.1:8080");
        SocketAddress v6 = parse_address("::1", 8080);
        CHECK(v6.family() == AF_INET6);
        CHECK(v6.length == sizeof(sockaddr_in6));
        CHECK(format_address(v6.get()) == "[::1]:8080");
        CHECK(format_address(v6.get(), false) == "::1");
        for (std::string bad : {"", "example.com", "127.0.0.256", "[::1]", "[::1]:80", "1.2.3"}) {
            CAPTURE(bad);
            CHECK_THROWS_WITH_AS(parse_address(bad, 80), doctest::Contains("not an IPv4 or IPv6 address"), std::system_error);
        }
    }

    TEST_CASE("a listener on ::1 takes IPv6 clients only; one on :: takes IPv4 clients too") {
        Fd only6 = listen_tcp("::1", 0);
        int port = local_port(only6.get());
        CHECK(local_address(only6.get()) == "[::1]:" + std::to_string(port));
        CHECK(can_connect("::1", port));
        CHECK(v6_only(only6.get()) == 1);  // (asked of the socket: a refused IPv4 connect could meet another listener)

        Fd both = listen_tcp("::", 0);
        port = local_port(both.get());
        CHECK(local_address(both.get()) == "[::]:" + std::to_string(port));
        CHECK(can_connect("::1", port));
        CHECK(can_connect("127.0.0.1", port));  // arrives as ::ffff:127.0.0.1
        CHECK(v6_only(both.get()) == 0);
    }
}
