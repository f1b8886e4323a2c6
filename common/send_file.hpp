// send_file: a response leaving through a non-blocking socket: its head from memory, then its body
// from a file, without ever waiting (chapter 07).
//
// Two ways to move a file's bytes to a socket:
//
//   Copy      pread(file, buf)  page cache --copy--> buf (user space)
//             send(sock, buf)   buf --copy--> socket buffer (kernel)
//   Sendfile  sendfile(sock, file)  page cache --> socket buffer, inside the kernel
//
// With sendfile the bytes never enter user space: one system call instead of two, no buffer of
// ours, and the socket takes references to the page-cache pages rather than a copy where the
// device allows (on loopback, the receiver's copy out is then the only copy). --copy keeps the
// user-space path, to measure the difference.
//
// The head goes out with sendmsg, which is writev with flags. Sending a file, it says MSG_MORE:
// "more follows at once", so a head of 200 bytes waits a moment to share a packet with the file
// instead of leaving alone (TCP_CORK does the same for longer; nginx's tcp_nopush). With --copy
// the same sendmsg carries the head and the first block of the file: one call, one packet.
#pragma once

#include "response.hpp"
#include "transport.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace one {

enum class FileSending : uint8_t {
    Sendfile,  // sendfile(2): from the page cache to the socket, inside the kernel
    Copy,      // pread(2) into a buffer, then send: through user space and back (--copy)
};

struct FileOutput {
    FileSending how = FileSending::Sendfile;
    // File bytes one connection may send per turn of the loop, so one big download cannot keep
    // the loop from everybody else (nginx's sendfile_max_chunk). Level-triggered, the poller says
    // "writable" again next turn; edge-triggered it would not, so there the limit is off.
    size_t per_turn = SIZE_MAX;
    std::string scratch;  // Copy: where file bytes pass through, shared by every connection on the loop
    // Chapter 08: before sending a stretch of a file, ask whether it is in the page cache
    // (page_cache.hpp): a miss would keep the loop waiting for the disk inside sendfile or pread.
    bool ask_cache = false;
};

// With ask_cache, a file is checked, and warmed by the pool when cold, this many bytes at a time.
inline constexpr size_t kCacheStretch = 1 << 20;

enum class Sent : uint8_t {
    All,     // the head and the whole file range are gone
    Partly,  // the socket is full, or this turn's share is spent: wait until writable
    Failed,  // the peer is gone, or the file ended before the range did (it shrank): close
    Cold,    // ask_cache: the file's next stretch is not in the page cache; nothing of it was sent
};

// Sends head[sent, end), then the file range, advancing `sent` and `file` past what went out.
// Through `transport` when there is one (chapter 11's TLS): the file's bytes are then read into
// memory and encrypted there, unless the kernel encrypts them itself (kTLS, sends_files()).
Sent send_output(int socket, Transport* transport, std::string_view head, size_t& sent, http::FileBody& file, FileOutput& output);

}  // namespace one
