#include "log.hpp"

#include <unistd.h>

namespace one {

void log_line(const std::string& message) {
    std::string line = "[server] " + message + "\n";
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;  // nowhere left to report a failure to report
}

void BurstLog::failure(const std::string& detail) {
    if (suppressed_.fetch_add(1) == -1) log_line(what_ + ": " + detail + " (further failures counted, not printed)");
}

void BurstLog::success() {
    long n = suppressed_.exchange(-1);
    if (n > 0) log_line(what_ + ": " + std::to_string(n) + " more before it recovered");
    else if (n == 0) log_line(what_ + ": recovered");
}

}  // namespace one
