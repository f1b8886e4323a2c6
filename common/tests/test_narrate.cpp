// narrate: one whole line per event on stderr, with the time since start and who spoke; silent
// unless turned on.
#include "common/narrate.hpp"

#include "common/sys.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <unistd.h>

using namespace one;

namespace {

// What `say` writes to stderr, caught in a pipe.
template <typename Say>
std::string stderr_of(Say say) {
    int ends[2];
    REQUIRE(::pipe2(ends, O_NONBLOCK) == 0);
    Fd read_end(ends[0]), write_end(ends[1]);
    Fd saved(::dup(STDERR_FILENO));
    ::dup2(write_end.get(), STDERR_FILENO);
    say();
    ::dup2(saved.get(), STDERR_FILENO);
    char bytes[4096];
    ssize_t n = ::read(read_end.get(), bytes, sizeof bytes);
    return n > 0 ? std::string(bytes, static_cast<size_t>(n)) : std::string();
}

}  // namespace

TEST_CASE("a narrated line: microseconds since start, the speaker, the text, one line") {
    narrate::set_speaker("worker 3");
    std::string out = stderr_of([] { narrate::line("accept -> fd 7 (127.0.0.1:51234)"); });
    narrate::set_speaker("");
    INFO(out);
    REQUIRE(out.size() > 3);
    CHECK(out.back() == '\n');
    CHECK(out.find('\n') == out.size() - 1);
    size_t us = out.find(" us  ");
    REQUIRE(us != std::string::npos);
    CHECK(std::strtoll(out.c_str(), nullptr, 10) >= 0);  // a whole number of microseconds
    CHECK(out.substr(us) == " us  worker 3  accept -> fd 7 (127.0.0.1:51234)\n");
}

TEST_CASE("without a speaker the text follows the time") {
    std::string out = stderr_of([] { narrate::request(7, "GET", "/hello", "200"); });
    CHECK(out.substr(out.find(" us  ")) == " us  fd 7: GET /hello complete -> 200\n");
}

TEST_CASE("narration is off unless --narrate turns it on") {
    CHECK_FALSE(narrate::on);
}
