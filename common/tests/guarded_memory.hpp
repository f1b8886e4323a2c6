// guarded_memory: what the parser tests share: a printable form of an input for failure messages,
// and memory that ends right before an unreadable page, so that reading one byte too far crashes.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <unistd.h>

namespace one::test {

// The input, printable and short enough for a failure message.
inline std::string describe(std::string_view input) {
    std::string s;
    for (char c : input.substr(0, 120)) {
        if (c == '\r') s += "\\r";
        else if (c == '\n') s += "\\n";
        else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) s += "\\x" + std::to_string(static_cast<unsigned char>(c));
        else s += c;
    }
    if (input.size() > 120) s += "... (" + std::to_string(input.size()) + " bytes)";
    return s;
}

// Memory whose last byte sits right before a PROT_NONE page: reading one byte too far crashes.
class GuardedMemory {
public:
    explicit GuardedMemory(size_t bytes) {
        page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
        size_ = std::max<size_t>(1, (bytes + page_ - 1) / page_) * page_;
        void* p = mmap(nullptr, size_ + page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        REQUIRE(p != MAP_FAILED);
        base_ = static_cast<char*>(p);
        REQUIRE(mprotect(base_ + size_, page_, PROT_NONE) == 0);
    }
    ~GuardedMemory() { munmap(base_, size_ + page_); }
    GuardedMemory(const GuardedMemory&) = delete;
    GuardedMemory& operator=(const GuardedMemory&) = delete;

    char* end() { return base_ + size_; }
    // Copies `bytes` so that they end exactly at the guard page.
    std::span<char> place(std::string_view bytes) {
        char* at = end() - bytes.size();
        std::memcpy(at, bytes.data(), bytes.size());
        return {at, bytes.size()};
    }

private:
    char* base_ = nullptr;
    size_t size_ = 0;  // readable bytes, a whole number of pages
    size_t page_ = 0;
};

}  // namespace one::test
