// send_file: the head with sendmsg, the body with sendfile (or pread and sendmsg), never blocking.
#include "send_file.hpp"

#include "narrate.hpp"
#include "page_cache.hpp"
#include "status.hpp"

#include <algorithm>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

namespace one {
namespace {

constexpr size_t kSendfileMax = 0x7ffff000;  // the most one sendfile() moves (sendfile(2), NOTES)

// One sendmsg of up to two pieces, `first` then `second`. `more`: MSG_MORE, more follows at once.
IoResult send_pieces(int socket, std::string_view first, std::span<const char> second, bool more) {
    if (!more && (first.empty() || second.empty())) return write_some(socket, first.empty() ? second : first);
    iovec pieces[2] = {{const_cast<char*>(first.data()), first.size()}, {const_cast<char*>(second.data()), second.size()}};
    msghdr message{};
    message.msg_iov = pieces;
    message.msg_iovlen = second.empty() ? 1 : 2;
    int flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0);
    ssize_t n = retry_eintr([&] { return ::sendmsg(socket, &message, flags); });
    if (n < 0) return {0, errno};
    status::count_bytes_out(static_cast<uint64_t>(n));
    if (narrate::on)
        narrate::line("fd " + std::to_string(socket) + ": sendmsg " + std::to_string(n) + " of " +
                      std::to_string(first.size() + second.size()) + " bytes" + (more ? ", MSG_MORE: the file follows" : ""));
    return {n, 0};
}

// Up to `most` bytes of the file range, straight from the page cache to the socket. 0 bytes
// means the file ended early. The offset is passed in, so the file's own position never moves.
IoResult sendfile_some(int socket, const http::FileBody& file, size_t most) {
    off_t offset = file.offset;
    ssize_t n = retry_eintr([&] { return ::sendfile(socket, file.fd.get(), &offset, std::min(most, kSendfileMax)); });
    if (n < 0) return {0, errno};
    status::count_bytes_out(static_cast<uint64_t>(n));
    if (narrate::on) narrate::line("fd " + std::to_string(socket) + ": sendfile " + std::to_string(n) + " bytes of the file, page cache to socket");
    return {n, 0};
}

// The file's next piece, up to `most` bytes, into `scratch` (nothing when `most` is 0). ENODATA:
// the file ended early, it shrank while being sent. The offset is passed in, as for sendfile.
IoResult read_piece(const http::FileBody& file, size_t most, std::string& scratch) {
    size_t want = std::min({most, file.length, scratch.size()});
    if (want == 0) return {0, 0};
    ssize_t got = retry_eintr([&] { return ::pread(file.fd.get(), scratch.data(), want, file.offset); });
    if (got < 0) return {0, errno};
    if (got == 0) return {0, ENODATA};
    return {got, 0};
}

// The same bytes the long way: into our buffer, then out of it, together with what is left of the
// head. What the socket does not take is read again next time: no buffer is kept per connection.
IoResult copy_some(int socket, std::string_view head, const http::FileBody& file, size_t most, std::string& scratch) {
    IoResult piece = read_piece(file, most, scratch);
    if (!piece.ok()) return piece;
    return send_pieces(socket, head, {scratch.data(), static_cast<size_t>(piece.n)}, false);
}

// Chapter 08: true when the file's next bytes can be sent without waiting for the disk: known to
// be cached, or found in the page cache now (one cachestat for the next kCacheStretch bytes).
bool warm_enough(http::FileBody& file, const FileOutput& output) {
    if (!output.ask_cache || file.cached > 0) return true;
    size_t stretch = std::min(kCacheStretch, file.length);
    if (!in_page_cache(file.fd.get(), file.offset, stretch)) return false;
    file.cached = stretch;
    return true;
}

// One system call's worth: the rest of the head (with the first of the file where that saves a
// call), or the next piece of the file.
IoResult send_step(int socket, Transport* transport, std::string_view head, const http::FileBody& file, size_t most,
                   FileOutput& output) {
    if (transport) {
        if (!head.empty()) return transport->write(head);
        if (transport->sends_files()) return transport->send_file(file.fd.get(), file.offset, std::min(most, file.length));
        // The file's next piece through memory, to be encrypted: one pread of up to 64 KiB, then
        // one write per record, as a write takes one record (16 KiB) and returns. A write that
        // stopped is retried with the same bytes, as TLS requires: the next call reads them again
        // from the same offset, now the piece's first (the page cache holds them).
        IoResult read = read_piece(file, most, output.scratch);
        if (!read.ok()) return read;
        std::span<const char> piece(output.scratch.data(), static_cast<size_t>(read.n));
        size_t written = 0;
        while (written < piece.size()) {
            IoResult r = transport->write(piece.subspan(written));
            if (!r.ok() || r.n == 0) return written > 0 ? IoResult{static_cast<ssize_t>(written), 0} : r;  // progress first: the stop comes again
            written += static_cast<size_t>(r.n);
        }
        return {static_cast<ssize_t>(written), 0};
    }
    if (output.how == FileSending::Copy && file.length > 0) return copy_some(socket, head, file, most, output.scratch);
    if (!head.empty()) return send_pieces(socket, head, {}, file.length > 0);
    return sendfile_some(socket, file, std::min(most, file.length));
}

}  // namespace

Sent send_output(int socket, Transport* transport, std::string_view head, size_t& sent, http::FileBody& file, FileOutput& output) {
    size_t budget = output.per_turn;
    while (sent < head.size() || (file.length > 0 && budget > 0)) {
        size_t head_left = head.size() - sent;
        bool file_next = file.length > 0 && (head_left == 0 || output.how == FileSending::Copy);
        if (file_next && !warm_enough(file, output)) return Sent::Cold;
        size_t most = output.ask_cache ? std::min(budget, file.cached) : budget;
        IoResult r = send_step(socket, transport, head.substr(sent), file, most, output);
        if (r.would_block()) return Sent::Partly;
        if (!r.ok() || r.n == 0) return Sent::Failed;  // EPIPE, ECONNRESET, EIO, ENODATA (a file that shrank)
        size_t n = static_cast<size_t>(r.n);
        size_t from_file = n - std::min(n, head_left);  // the head's bytes went first
        sent += n - from_file;
        file.offset += static_cast<off_t>(from_file);
        file.length -= from_file;
        file.cached -= std::min(file.cached, from_file);
        budget -= std::min(budget, from_file);
    }
    return file.length > 0 ? Sent::Partly : Sent::All;
}

}  // namespace one
