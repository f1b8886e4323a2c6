// read_bucket: --read-rate's token bucket, which tells a busy connection how much it may read now.
//
// Tokens are bytes. They flow in continuously at the rate, by the loop's clock, and the bucket holds
// at most one read tick's worth (kReadTickNs of reading, at least one byte). It starts full, and a
// connection that had nothing to read for a while finds no more than that burst. So over any T
// seconds a connection reads at most burst + rate * T bytes: 65536 B/s is 6553 B at once, then
// 6553 B per 100 ms.
//
// A connection out of tokens stops reading (the worker takes EPOLLIN out of its interest set), and
// the worker's read tick, every kReadTickNs, finds its bucket full again and reads on. Against a
// server that keeps up, that is one read of about rate/10 bytes per tick, and one loop wake-up per
// tick for all the connections of a thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace one::loadgen {

inline constexpr int64_t kReadTickNs = 100'000'000;  // a slow reader's pace: one read per 100 ms

class ReadBucket {
public:
    ReadBucket() = default;  // unlimited: allowance() is always all that was asked
    explicit ReadBucket(int64_t bytes_per_s)
        : per_ns_(static_cast<double>(bytes_per_s) / 1e9), burst_(std::max(1.0, per_ns_ * kReadTickNs)), tokens_(burst_) {}

    bool limited() const { return per_ns_ > 0; }

    // How many bytes may be read at `now`, at most `max`; 0: none before a later refill.
    size_t allowance(int64_t now, size_t max) {
        if (!limited()) return max;
        // Fractions of a byte are kept, so rates under 10 B/s still add up to whole bytes.
        tokens_ = std::min(burst_, tokens_ + per_ns_ * static_cast<double>(std::max<int64_t>(0, now - refilled_ns_)));
        refilled_ns_ = now;
        return tokens_ < 1 ? 0 : std::min(max, static_cast<size_t>(tokens_));
    }

    // `bytes` were read. May go below zero (a broken socket is drained whole): that debt is paid first.
    void spend(size_t bytes) {
        if (limited()) tokens_ -= static_cast<double>(bytes);
    }

    double burst() const { return burst_; }

private:
    double per_ns_ = 0;        // bytes per nanosecond; 0: unlimited
    double burst_ = 0;         // the most the bucket holds
    double tokens_ = 0;        // bytes that may be read now (as of refilled_ns_)
    int64_t refilled_ns_ = 0;  // when tokens_ was last topped up; 0: never (it starts full)
};

}  // namespace one::loadgen
