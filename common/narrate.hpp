// narrate: with --narrate, a server says what its model does, one line per event, as it happens:
//
//      534912 us  epoll_wait -> 1 ready: fd 3 (the listener) readable
//      535084 us  accept -> fd 5 (127.0.0.1:51150)
//      535378 us  fd 5: read 84 bytes
//      535403 us  fd 5: GET /hello complete -> 200
//
// Meant for one or two clients and curl, to watch a model work: every line is a write to stderr.
// Off (the default), each place that could narrate costs one well-predicted branch on `on`.
#pragma once

#include <string>
#include <string_view>

namespace one::narrate {

inline bool on = false;  // --narrate; set once at start-up, before any thread or worker starts

// Who speaks on this thread, where a model has several: "worker 1", "thread 4242". Empty: nobody
// else speaks, so there is no need to say.
void set_speaker(std::string who);

// One line: the time since the server started, the speaker, `text`. One write(2) per line, so
// lines from several threads or workers never interleave within a line.
void line(const std::string& text);

// "fd 7: GET /hello complete -> 200", or "-> handed to the thread pool": what became of it.
void request(int fd, std::string_view method, std::string_view target, std::string_view outcome);
// "fd 7: refused -> 400 (why)".
void refusal(int fd, int status, std::string_view why);

}  // namespace one::narrate
