#include "narrate.hpp"

#include <chrono>
#include <cstdio>
#include <unistd.h>

namespace one::narrate {
namespace {

// Read when the program starts, before a master forks: its workers share the same zero.
const auto started = std::chrono::steady_clock::now();
thread_local std::string speaker;

}  // namespace

void set_speaker(std::string who) { speaker = std::move(who); }

void line(const std::string& text) {
    auto since = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "%10lld us  ", static_cast<long long>(since.count()));
    std::string out = stamp;
    if (!speaker.empty()) out += speaker + "  ";
    out += text;
    out += '\n';
    ssize_t ignored = ::write(STDERR_FILENO, out.data(), out.size());  // one call: whole lines, never mixed
    (void)ignored;
}

void request(int fd, std::string_view method, std::string_view target, std::string_view outcome) {
    line("fd " + std::to_string(fd) + ": " + std::string(method) + " " + std::string(target) + " complete -> " + std::string(outcome));
}

void refusal(int fd, int status, std::string_view why) {
    line("fd " + std::to_string(fd) + ": refused -> " + std::to_string(status) + " (" + std::string(why) + ")");
}

}  // namespace one::narrate
