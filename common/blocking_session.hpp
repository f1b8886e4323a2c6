// blocking_session: serving one client on a blocking socket, as chapters 01 and 02 do.
// The thread that calls serve_blocking() belongs to that client until it leaves.
#pragma once

#include "app.hpp"
#include "log.hpp"
#include "server_options.hpp"
#include "sys.hpp"

namespace one {

// Reads requests and writes responses until the client closes, asks to close, sends something
// we refuse, or stays silent past the idle timeout. Never throws; closes the socket on return.
void serve_blocking(Fd client, const App& app, const ServerOptions& options);

// After an error response: stop sending, then read and discard what the client is still sending
// for a moment. Closing with unread bytes would make the kernel send a reset, and the reset can
// destroy the error response before the client reads it.
void lingering_close(Fd client);

// What a blocking accept loop does after accept() fails: returns normally to try again (after a
// pause when out of descriptors, logged once per burst), throws on a fatal error.
void after_accept_error(int err, BurstLog& out_of_fds);

}  // namespace one
