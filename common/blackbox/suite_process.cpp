// The shared black-box suite, part 3: many clients at once, and the binary's command line.
#include "harness.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <memory>
#include <sys/wait.h>

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
    CHECK(run_binary("--port " + std::to_string(first.port()), output) == 1);
    CHECK(output.find("Address already in use") != std::string::npos);
}

}  // TEST_SUITE
