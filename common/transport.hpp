// transport: what stands between a connection's bytes and its socket. Nothing, in chapters 03 to
// 10: the loop reads and writes the socket itself (read_some, send_output). Chapter 11 puts a TLS
// session there, which decrypts what it reads and encrypts what it writes, and needs its own
// messages to cross (the handshake, tickets, the closing alert) whichever way the loop is going.
//
// That last point is the one the loop must learn. A TLS read can need the socket writable (it
// has a handshake message to send first) and a TLS write can need it readable. So after EAGAIN
// the loop asks waiting_for() what to watch, and on that readiness retries the operation that
// stopped, not the one the direction suggests.
#pragma once

#include "poller.hpp"
#include "sys.hpp"

#include <memory>
#include <span>

namespace one {

class Transport {
public:
    virtual ~Transport() = default;

    // As read_some and write_some: bytes moved, 0 when the peer has ended (for TLS, with its
    // closing alert), or an errno. EAGAIN: nothing can move until waiting_for() has come.
    virtual IoResult read(std::span<char> into) = 0;
    virtual IoResult write(std::span<const char> bytes) = 0;
    // After EAGAIN: the readiness the stopped operation needs.
    virtual Interest waiting_for() const = 0;
    // True when the last EAGAIN needs the other direction: a read that waits for writable, or a
    // write for readable.
    virtual bool crossed() const = 0;
    // Bytes the session has already read and holds, decrypted or not, which the socket will not
    // report again.
    virtual bool holds_input() const = 0;
    // True once the handshake is done: until then the connection is on a handshake deadline.
    virtual bool established() const = 0;
    // Before the close: tell the peer (TLS close_notify), once, without waiting for its answer.
    virtual void shut_down() = 0;
    // True when the kernel itself encrypts what goes out (kTLS): a file's bytes can then go from
    // the page cache to the socket with send_file, as in chapter 07, and never through memory.
    virtual bool sends_files() const = 0;
    // Up to `length` bytes of file `fd` from `offset`, as sendfile: only when sends_files().
    virtual IoResult send_file(int fd, off_t offset, size_t length) = 0;
};

// Gives each new connection its transport (chapter 11: a TLS session over the shared context).
class TransportMaker {
public:
    virtual ~TransportMaker() = default;
    virtual std::unique_ptr<Transport> wrap(int fd) = 0;
};

}  // namespace one
