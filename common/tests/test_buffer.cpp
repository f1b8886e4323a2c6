// Tests for Buffer: fill at the back, consume from the front, slide before growing, free when empty.
#include "common/buffer.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <string_view>

using one::Buffer;

namespace {

std::string_view text(Buffer& b) {
    std::span<char> r = b.readable();
    return {r.data(), r.size()};
}

// Writes `bytes` through writable() and commit(), the way a read() into the buffer does.
void put(Buffer& b, std::string_view bytes) {
    std::span<char> room = b.writable(bytes.size());
    REQUIRE(room.size() >= bytes.size());
    std::memcpy(room.data(), bytes.data(), bytes.size());
    b.commit(bytes.size());
}

}  // namespace

TEST_SUITE("buffer") {

TEST_CASE("a new buffer holds no memory") {
    Buffer b;
    CHECK(b.empty());
    CHECK(b.size() == 0);
    CHECK(b.capacity() == 0);
    CHECK(b.readable().empty());
    CHECK_FALSE(b.release());  // nothing to give back
    CHECK(b.writable(0).empty());
    CHECK(b.capacity() == 0);
}

TEST_CASE("writable, commit, readable, consume") {
    Buffer b;
    std::span<char> room = b.writable(10);
    CHECK(room.size() >= 10);
    CHECK(b.capacity() == room.size());
    std::memcpy(room.data(), "abcdefgh", 8);
    CHECK(b.empty());  // nothing counts until it is committed
    b.commit(5);
    CHECK(b.size() == 5);
    CHECK(text(b) == "abcde");
    CHECK(b.writable(1).size() == b.capacity() - 5);  // the space after what was committed

    b.consume(2);
    CHECK(text(b) == "cde");
    put(b, "XY");
    CHECK(text(b) == "cdeXY");
    b.consume(100);  // more than there is: everything
    CHECK(b.empty());
    CHECK(b.size() == 0);
    // Empty again: writing starts over at the front, so the whole capacity is free.
    CHECK(b.writable(1).size() == b.capacity());
}

TEST_CASE("growth doubles and keeps the bytes") {
    Buffer b;
    put(b, std::string(16, 'a'));
    CHECK(b.capacity() == 16);
    put(b, "b");
    CHECK(b.capacity() == 32);
    CHECK(text(b) == std::string(16, 'a') + "b");
    put(b, std::string(100, 'c'));  // more than double: exactly what is needed
    CHECK(b.capacity() == 117);
    CHECK(b.size() == 117);
    CHECK(text(b).substr(16) == "b" + std::string(100, 'c'));
}

TEST_CASE("consumed space at the front is reused by sliding the bytes down, not by growing") {
    Buffer b;
    put(b, "0123456789abcdef");
    const char* memory = b.readable().data();
    b.consume(12);
    CHECK(text(b) == "cdef");
    std::span<char> room = b.writable(12);  // 12 free only if the 4 bytes move to the front
    CHECK(b.capacity() == 16);
    CHECK(room.size() == 12);
    CHECK(b.readable().data() == memory);
    CHECK(text(b) == "cdef");
    put(b, "ghijklmnopqr");
    CHECK(text(b) == "cdefghijklmnopqr");

    // When sliding would not make room, it grows, still keeping the bytes.
    b.consume(2);
    put(b, "0123");
    CHECK(b.capacity() == 32);
    CHECK(text(b) == "efghijklmnopqr0123");
}

TEST_CASE("append copies bytes onto the back, across growth") {
    Buffer b;
    std::string all;
    for (int i = 0; i < 100; ++i) {
        std::string piece = std::to_string(i) + ",";
        b.append(piece);
        all += piece;
    }
    CHECK(text(b) == all);
    b.append(std::span<const char>());
    CHECK(text(b) == all);
}

TEST_CASE("release gives the memory back only when nothing is buffered") {
    Buffer b;
    put(b, "abc");
    CHECK_FALSE(b.release());
    CHECK(b.capacity() > 0);
    CHECK(text(b) == "abc");
    b.consume(3);
    CHECK(b.release());
    CHECK(b.capacity() == 0);
    CHECK_FALSE(b.release());
    put(b, "again");  // usable again after a release
    CHECK(text(b) == "again");
}

}  // TEST_SUITE("buffer")
