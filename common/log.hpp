// log: one line per event on stderr, and a limiter so that a burst of the same failure
// (a thousand refused clients at the fd limit) prints one line, not a thousand.
#pragma once

#include <atomic>
#include <cstdio>
#include <string>

namespace one {

// Prints "[server] message" to stderr in one write, so lines from several threads do not mix.
void log_line(const std::string& message);

// Logs the first failure of a burst and counts the rest; the next success reports how many there were.
// Thread-safe: chapter 02's accepting thread and its client threads may share one.
class BurstLog {
public:
    explicit BurstLog(std::string what) : what_(std::move(what)) {}
    void failure(const std::string& detail);
    void success();

private:
    std::string what_;
    std::atomic<long> suppressed_{-1};  // -1: not in a burst; n >= 0: in a burst, n failures not printed
};

}  // namespace one
