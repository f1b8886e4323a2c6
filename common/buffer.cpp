#include "buffer.hpp"

#include <algorithm>
#include <cstring>

namespace one {

std::span<char> Buffer::writable(size_t min) {
    if (capacity_ - write_at_ < min) {
        size_t used = size();
        if (capacity_ - used >= min && read_at_ > 0) {
            std::memmove(data_.get(), data_.get() + read_at_, used);  // slide to the front: no allocation
        } else {
            size_t grown = std::max(capacity_ * 2, used + min);
            auto bigger = std::make_unique_for_overwrite<char[]>(grown);
            if (used) std::memcpy(bigger.get(), data_.get() + read_at_, used);
            data_ = std::move(bigger);
            capacity_ = grown;
        }
        read_at_ = 0;
        write_at_ = used;
    }
    return {data_.get() + write_at_, capacity_ - write_at_};
}

void Buffer::append(std::span<const char> bytes) {
    std::span<char> room = writable(bytes.size());
    if (!bytes.empty()) std::memcpy(room.data(), bytes.data(), bytes.size());
    commit(bytes.size());
}

void Buffer::consume(size_t n) {
    read_at_ += std::min(n, size());
    if (read_at_ == write_at_) read_at_ = write_at_ = 0;  // empty: start again at the front
}

bool Buffer::release() {
    if (!empty() || !data_) return false;
    data_.reset();
    capacity_ = read_at_ = write_at_ = 0;
    return true;
}

}  // namespace one
