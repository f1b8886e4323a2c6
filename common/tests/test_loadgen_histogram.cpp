// loadgen's histogram: percentiles of known distributions, and the 1% precision bound.
#include "common/loadgen/histogram.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

using one::loadgen::Histogram;

namespace {

// The exact value at `percentile`, as Histogram defines it: the rank-th smallest, rank = ceil(p * n).
int64_t exact_percentile(std::vector<int64_t> values, double percentile) {
    std::sort(values.begin(), values.end());
    auto rank = static_cast<size_t>(std::ceil(percentile / 100.0 * static_cast<double>(values.size())));
    return values[std::max<size_t>(rank, 1) - 1];
}

}  // namespace

TEST_SUITE("loadgen histogram") {
    TEST_CASE("every value lies in its bucket, and a bucket is at most 1/128 of its values wide") {
        for (int64_t v = 0; v < (int64_t{1} << 30); v = v < 1000 ? v + 1 : v + v / 97) {
            int bucket = Histogram::bucket_of(v);
            CHECK(Histogram::highest_in(bucket) >= v);
            int64_t lowest = bucket == 0 ? 0 : Histogram::highest_in(bucket - 1) + 1;
            CHECK(lowest <= v);
            CHECK(static_cast<double>(Histogram::highest_in(bucket) - lowest) <= static_cast<double>(lowest) / 128.0);
        }
        CHECK(Histogram::bucket_of(int64_t{1} << 50) == Histogram::kBuckets - 1);  // clamped, never out of bounds
    }

    TEST_CASE("an empty histogram says zero") {
        Histogram h;
        CHECK(h.count() == 0);
        CHECK(h.percentile(50) == 0);
        CHECK(h.max() == 0);
        CHECK(h.mean() == 0);
    }

    TEST_CASE("uniform 1..100000: percentiles within 1%, max exact") {
        auto h = std::make_unique<Histogram>();
        for (int64_t v = 1; v <= 100000; ++v) h->record(v);
        CHECK(h->percentile(50) == doctest::Approx(50000).epsilon(0.01));
        CHECK(h->percentile(90) == doctest::Approx(90000).epsilon(0.01));
        CHECK(h->percentile(99) == doctest::Approx(99000).epsilon(0.01));
        CHECK(h->percentile(99.9) == doctest::Approx(99900).epsilon(0.01));
        CHECK(h->percentile(100) == 100000);
        CHECK(h->max() == 100000);
        CHECK(h->min() == 1);
        CHECK(h->mean() == doctest::Approx(50000.5));
    }

    TEST_CASE("all equal: every percentile is that value exactly") {
        auto h = std::make_unique<Histogram>();
        for (int i = 0; i < 1000; ++i) h->record(1234);
        for (double p : {0.0, 50.0, 90.0, 99.0, 99.9, 100.0}) CHECK(h->percentile(p) == 1234);
    }

    TEST_CASE("one outlier shows in max and at the top rank only") {
        auto h = std::make_unique<Histogram>();
        for (int i = 0; i < 999; ++i) h->record(100);
        h->record(2'000'000);
        CHECK(h->percentile(50) == 100);
        CHECK(h->percentile(99) == 100);
        CHECK(h->percentile(99.9) == 100);  // rank 999 of 1000
        CHECK(h->percentile(99.95) == 2'000'000);
        CHECK(h->max() == 2'000'000);
    }

    TEST_CASE("precision bound: never below the exact percentile, at most 1/128 above") {
        std::mt19937_64 random(42);
        std::lognormal_distribution<double> latency(6.0, 1.5);  // a long tail, like real latencies
        std::vector<int64_t> values;
        auto h = std::make_unique<Histogram>();
        for (int i = 0; i < 200000; ++i) {
            values.push_back(static_cast<int64_t>(latency(random)));
            h->record(values.back());
        }
        for (double p : {1.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
            int64_t exact = exact_percentile(values, p);
            CAPTURE(p);
            CHECK(h->percentile(p) >= exact);
            CHECK(static_cast<double>(h->percentile(p)) <= static_cast<double>(exact) * (1 + 1.0 / 128) + 1);
        }
    }

    TEST_CASE("merging two histograms is recording into one") {
        auto a = std::make_unique<Histogram>(), b = std::make_unique<Histogram>(), both = std::make_unique<Histogram>();
        for (int64_t v = 0; v < 5000; ++v) {
            (v % 3 ? *a : *b).record(v * 7);
            both->record(v * 7);
        }
        a->merge(*b);
        CHECK(a->count() == both->count());
        for (double p : {50.0, 99.0, 100.0}) CHECK(a->percentile(p) == both->percentile(p));
        CHECK(a->min() == 0);
        CHECK(a->mean() == doctest::Approx(both->mean()));
    }

    TEST_CASE("negative values count as zero") {
        Histogram h;
        h.record(-5);
        CHECK(h.percentile(50) == 0);
        CHECK(h.max() == 0);
    }
}
