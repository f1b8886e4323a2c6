// histogram: latency percentiles in fixed memory, after HdrHistogram's log-linear layout.
//
// Values below 256 each get their own bucket. Above that, every power-of-two range [2^k, 2^(k+1))
// is cut into 128 equal sub-buckets, so a bucket is never wider than 1/128 (0.8%) of the values in
// it. Recording is an index computation and an increment: no allocation, no sorting, and two
// threads' histograms merge by adding their counts.
//
//   value:  0 1 2 ... 255 | 256 258 ... 510 | 512 516 ... 1020 | 1024 ...
//   width:  1 each        | 2 each          | 4 each           | 8 ...
#pragma once

#include <array>
#include <cstdint>

namespace one::loadgen {

class Histogram {
public:
    static constexpr int kSubBits = 7;                         // 128 sub-buckets per power of two
    static constexpr int kMaxBits = 40;                        // values up to 2^40 us (12 days); larger clamp
    static constexpr int kBuckets = (kMaxBits - kSubBits + 1) << kSubBits;

    void record(int64_t value);
    void merge(const Histogram& other);

    // The value at `percentile` (0..100): the highest value of the bucket holding that rank,
    // clamped to the exact min and max, so it never understates and is within 1% above.
    int64_t percentile(double percentile) const;

    uint64_t count() const { return count_; }
    int64_t min() const { return count_ ? min_ : 0; }
    int64_t max() const { return max_; }
    double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }

    // Bucket arithmetic, public for the tests.
    static int bucket_of(int64_t value);
    static int64_t highest_in(int bucket);

private:
    std::array<uint64_t, kBuckets> counts_{};
    uint64_t count_ = 0;
    int64_t min_ = INT64_MAX;
    int64_t max_ = 0;
    int64_t sum_ = 0;  // 2^63 us is ages; it cannot overflow in a bounded run
};

}  // namespace one::loadgen
