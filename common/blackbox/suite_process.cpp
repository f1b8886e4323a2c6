// The shared black-box suite, part 3: many clients at once, and the binary's command line.
#include "harness.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cerrno>
#include <memory>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace one::test;

TEST_SUITE("process") {

TEST_CASE("concurrent clients are all answered") {
    ServerProcess server;
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 50; ++i) clients.push_back(std::make_unique<Client>(server.port()));
    // Every client sends before any reads: a server that serves one connection at a time cannot pass.
    for (auto& client : clients) REQUIRE(client->send(get("/hello")));
    for (auto& client : clients) CHECK(client->read_reply().body == "Hello, World!");
    for (auto& client : clients) REQUIRE(client->send(get("/hello")));  // and the connections stay usable
    for (auto& client : clients) CHECK(client->read_reply().body == "Hello, World!");
}

TEST_CASE("--help describes the options") {
    std::string output;
    CHECK(run_binary("--help", output) == 0);
    CHECK(output.find("--port") != std::string::npos);
    CHECK(output.find("--host") != std::string::npos);
    CHECK(output.find("--narrate") != std::string::npos);
    CHECK(printable(output));
}

TEST_CASE("a bad flag gets a clear message and a failing exit code") {
    std::string output;
    CHECK(run_binary("--port 70000", output) != 0);
    CHECK(output.find("--port") != std::string::npos);
    output.clear();
    CHECK(run_binary("--no-such-flag", output) != 0);
    CHECK(output.find("no-such-flag") != std::string::npos);
    output.clear();
    CHECK(run_binary("--host not-an-address --port 0", output) == 1);
    CHECK(output.find("not-an-address") != std::string::npos);
}

TEST_CASE("a port already in use is a clear error") {
    ServerProcess first;
    std::string output;
    CHECK(run_binary("--host " + server_host() + " --port " + std::to_string(first.port()), output) == 1);
    CHECK(output.find("Address already in use") != std::string::npos);
}

// True when this machine can listen on ::1 (IPv6 on, and on the loopback interface).
static bool has_ipv6_loopback() {
    int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_loopback;
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
}

TEST_CASE("IPv6: --host ::1 listens on [::1]:PORT, --host :: takes IPv4 clients too") {
    if (!has_ipv6_loopback()) {
        MESSAGE("skipped: this machine has no IPv6 on its loopback interface");
        return;
    }
    ServerSpec v6;
    v6.host = "::1";
    ServerProcess only6(v6);
    const std::string on = plain_port_run() ? "plain HTTP on " : "listening on ";  // the line of the port under test
    CHECK(only6.listening() == on + "[::1]:" + std::to_string(only6.port()));
    Client client(only6.port(), 5000, "::1");
    REQUIRE(client.send(get("/hello") + get("/hello")));  // keep-alive and pipelining, as over IPv4
    CHECK(client.read_reply().body == "Hello, World!");
    CHECK(client.read_reply().body == "Hello, World!");

    v6.host = "::";
    ServerProcess both(v6);
    CHECK(both.listening() == on + "[::]:" + std::to_string(both.port()));
    CHECK(Client(both.port(), 5000, "::1").connected());
    Client from_ipv4(both.port(), 5000, "127.0.0.1");
    REQUIRE(from_ipv4.send(get("/hello")));
    CHECK(from_ipv4.read_reply().body == "Hello, World!");
}

// A kernel booted without IPv6 refuses every AF_INET6 socket with EAFNOSUPPORT; the filter does
// the same to the server alone.
TEST_CASE("without IPv6, --host ::1 is one clear line and a failing exit code") {
    std::string output;
    CHECK(run_binary_refused(__NR_socket, EAFNOSUPPORT, "--host ::1 --port 0", output, AF_INET6) == 1);
    CAPTURE(output);
    CHECK(output.find("IPv6 is not available on this machine") != std::string::npos);
    CHECK(std::count(output.begin(), output.end(), '\n') == 1);
    CHECK(output.find("listening on") == std::string::npos);
}

}  // TEST_SUITE
