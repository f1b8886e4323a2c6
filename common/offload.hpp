// offload: the event loop's door to chapter 08's thread pool.
//
// Before chapter 08 there is no door (LoopShared::offload is null): the loop answers everything
// itself, /sleep and cold files included, and every client waits while it does; that is what those
// chapters show. From chapter 08 on, what could make the loop wait goes through this door, and its
// result comes back later, on the loop's thread, through EventServer::job_done.
//
// The door takes a connection's identity (descriptor and generation), never the Connection: work
// running on another thread must not touch what the loop owns, and by the time it finishes the
// connection may be gone and its descriptor another client's.
#pragma once

#include "http_parser.hpp"
#include "response.hpp"

#include <cstdint>
#include <optional>
#include <span>

namespace one {

class Offload {
public:
    virtual ~Offload() = default;

    // Answers `request`, whose bytes are `raw`, off the loop, for connection (fd, generation).
    // Returns nothing when taken. When it cannot take it (its queue is full), returns the answer
    // to send now instead: 503 with Retry-After.
    virtual std::optional<http::Response> answer_later(int fd, uint32_t generation, const http::Request& request,
                                                       std::span<const char> raw) = 0;

    // Reads `length` bytes of `file` from its offset into the page cache, off the loop.
    // False when it cannot (its queue is full).
    virtual bool warm_later(int fd, uint32_t generation, const http::FileBody& file, size_t length) = 0;

    // What --narrate says became of a request given to answer_later(): "handed to the thread pool".
    virtual const char* narrated_as() const = 0;
};

}  // namespace one
