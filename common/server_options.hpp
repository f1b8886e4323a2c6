// server_options: the flags every chapter's binary shares, and the start-up and exit conventions.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace one {

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 0;                 // set per chapter: 8000 + its number
    int idle_timeout_ms = 60000;  // a connection with nothing to say for this long is closed
    size_t max_body = 1 << 20;    // larger request bodies get 413
};

// Adds --host, --port, --idle-timeout, --max-body and --narrate (narrate.hpp) to `cli`.
void add_server_options(CLI::App& cli, ServerOptions& options, int default_port);

// Prints "listening on HOST:PORT", the line scripts and tests wait for, and flushes it. A second
// listener is announced with other words (chapter 11: "plain HTTP on").
void announce_listening(int listen_fd, const char* words = "listening on");

// Runs `body`, the server, turning a setup failure (std::exception) into a message and exit code 1.
int run_server(const std::function<void()>& body);

}  // namespace one
