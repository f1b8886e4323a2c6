// net: the client's side of the socket layer: a non-blocking connect from a chosen source
// address, the monotonic clock, and an epoll wait with nanosecond timeouts.
#pragma once

#include "common/sys.hpp"

#include <cstdint>
#include <netinet/in.h>
#include <sys/epoll.h>

namespace one::loadgen {

// Nanoseconds on CLOCK_MONOTONIC.
int64_t now_ns();

sockaddr_in ipv4_address(uint32_t host_order_address, int port);

// Starts a non-blocking connect to `server` with TCP_NODELAY set. `source` (host order, 0: any)
// is bound with port 0 and IP_BIND_ADDRESS_NO_PORT, so the port is chosen at connect() time for
// the whole 4-tuple and each source address brings its own ~28k ephemeral ports.
// `rcvbuf` > 0 sets SO_RCVBUF before connect(), as it must be: the SYN announces the window scale
// it allows, and a buffer set by hand is no longer grown by the kernel's autotuning.
// On failure returns an empty Fd and sets `err`; EINPROGRESS is not a failure.
Fd start_connect(const SocketAddress& server, uint32_t source, int rcvbuf, int& err);

// Closes with an RST instead of a FIN (SO_LINGER 0), so the port is free at once rather than
// held in TIME_WAIT for a minute.
void close_abortively(Fd& fd);

// The result of a non-blocking connect once the socket turned writable: 0 or an errno.
int connect_result(int fd);

// epoll_wait for at most `timeout_ns` (epoll_pwait2 where the kernel has it, so an open-loop
// schedule is not rounded up to whole milliseconds). Returns the number of events, or 0.
int wait_events(int epoll_fd, epoll_event* events, int max_events, int64_t timeout_ns);

}  // namespace one::loadgen
