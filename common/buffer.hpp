// buffer: a byte buffer for a connection's input, read into at the back and consumed from the front.
//
//   +-----------------+------------------+------------------+
//   |  consumed       |  readable bytes  |  writable space  |
//   +-----------------+------------------+------------------+
//   0            read_at_           write_at_          capacity
//
// Memory is taken only when bytes arrive and can be given back with release() once the buffer is
// empty: the event-loop chapters do, so a quiet keep-alive connection there holds no buffer at all.
// (A blocking server cannot: its thread sits in recv() with a buffer ready for the next request.)
#pragma once

#include <cstddef>
#include <memory>
#include <span>

namespace one {

class Buffer {
public:
    std::span<char> readable() { return {data_.get() + read_at_, write_at_ - read_at_}; }
    size_t size() const { return write_at_ - read_at_; }
    bool empty() const { return read_at_ == write_at_; }
    size_t capacity() const { return capacity_; }

    // Space for at least `min` more bytes at the back: moves the readable bytes to the front
    // or grows (doubling) as needed. Fill it, then commit() what was written.
    std::span<char> writable(size_t min);
    void commit(size_t n) { write_at_ += n; }

    // Copies `bytes` onto the back.
    void append(std::span<const char> bytes);

    // Drops `n` bytes from the front.
    void consume(size_t n);

    // Frees the memory if nothing is buffered. Returns true if it did.
    bool release();

private:
    std::unique_ptr<char[]> data_;
    size_t capacity_ = 0;
    size_t read_at_ = 0;
    size_t write_at_ = 0;
};

}  // namespace one
