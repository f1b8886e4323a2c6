// histogram: bucket arithmetic and the percentile walk.
#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace one::loadgen {

int Histogram::bucket_of(int64_t value) {
    if (value < 0) value = 0;
    auto v = static_cast<uint64_t>(value);
    if (v >= (uint64_t{1} << kMaxBits)) v = (uint64_t{1} << kMaxBits) - 1;
    int shift = std::bit_width(v) - (kSubBits + 1);  // how many low bits this range ignores
    if (shift <= 0) return static_cast<int>(v);      // below 256: exact
    // v >> shift lies in [128, 256); each shift adds 128 new buckets after the exact ones.
    return (shift << kSubBits) + static_cast<int>(v >> shift);
}

int64_t Histogram::highest_in(int bucket) {
    if (bucket < (2 << kSubBits)) return bucket;
    int shift = (bucket >> kSubBits) - 1;
    int64_t sub = bucket - (shift << kSubBits);  // in [128, 256)
    return ((sub + 1) << shift) - 1;
}

void Histogram::record(int64_t value) {
    if (value < 0) value = 0;
    ++counts_[static_cast<size_t>(bucket_of(value))];
    ++count_;
    sum_ += value;
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
}

void Histogram::merge(const Histogram& other) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
}

int64_t Histogram::percentile(double percentile) const {
    if (count_ == 0) return 0;
    double wanted = std::clamp(percentile, 0.0, 100.0) / 100.0 * static_cast<double>(count_);
    // The rank-th smallest sample. The slack keeps 99.9% of 1000 at rank 999, though 0.999 * 1000
    // comes out a hair above 999 in binary floating point.
    uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(wanted - 1e-6)));
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::clamp(highest_in(static_cast<int>(i)), min(), max_);
    }
    return max_;
}

}  // namespace one::loadgen
