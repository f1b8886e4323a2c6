// sys's addresses: IPv4 and IPv6 parsed and written as a URL writes them, listeners on ::1 and on
// :: (which takes IPv4 clients too), and the plain refusal of anything that is not an address.
#include "common/sys.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <system_error>

using namespace one;

namespace {

// A blocking client connected to host:port, or an empty Fd.
Fd connect_to(const std::string& host, int port) {
    SocketAddress address = parse_address(host, port);
    Fd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd && ::connect(fd.get(), address.get(), address.length) == 0) return fd;
    return Fd();
}

bool can_connect(const std::string& host, int port) { return static_cast<bool>(connect_to(host, port)); }

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
        CHECK(v6_only(both.get()) == 0);
        Fd from_ipv4 = connect_to("127.0.0.1", port);  // arrives as ::ffff:127.0.0.1...
        REQUIRE(from_ipv4);
        int err = 0;
        Fd first = accept_client(both.get(), err);  // the IPv6 client of can_connect() above
        REQUIRE(first);
        CHECK(peer_address(first.get(), false) == "::1");
        Fd second = accept_client(both.get(), err);
        REQUIRE(second);
        CHECK(peer_address(second.get(), false) == "127.0.0.1");  // ...and is written as the IPv4 address it is

        Fd zero = listen_tcp("::0", 0);  // the same unspecified address, written another way
        CHECK(v6_only(zero.get()) == 0);
    }
}
