// report: the run's results, as a short summary for people and as JSON for the labs.
#pragma once

#include "options.hpp"
#include "stats.hpp"

#include <cstdio>
#include <string>

namespace one::loadgen {

struct Report {
    const Options* options = nullptr;
    const Stats* stats = nullptr;
    long fd_limit = 0;
    int idle_opened = 0;         // idle connections attempted, after the fd limit's cap
    std::string limited_by;      // the limits the run hit, in words; "" when none
    double window_s = 0;         // the measured window as it really was
    double cpu_s = 0;            // this process's user + system CPU over the window
    double count_window_s = 0;   // --tail: the signalled count window (0: none)

    double rps() const;
    double cpu_us_per_request() const;
};

// The sentences for every limit the run hit: the fd cap on --idle, ephemeral ports, descriptors.
std::string describe_limits(const std::string& fd_cap, const Stats& stats);

void print_summary(std::FILE* out, const Report& report);
std::string to_json(const Report& report);

// Writes to_json(report) to `path`; throws std::system_error on failure.
void write_json(const std::string& path, const Report& report);

}  // namespace one::loadgen
