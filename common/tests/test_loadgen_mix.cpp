// loadgen's --mix: the weighted draw, its seed, the per-entry stats and how the report shows them.
#include "common/loadgen/mix.hpp"
#include "common/loadgen/report.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace one::loadgen;

namespace {

Report report_of(const Options& options, const Stats& stats) {
    Report r;
    r.options = &options;
    r.stats = &stats;
    r.window_s = 2;
    return r;
}

// The fraction of `draws` draws that picked each entry.
std::vector<double> draw_shares(const std::vector<MixEntry>& mix, int draws, uint64_t seed = 1, int thread = 0) {
    MixChooser chooser(mix, seed, thread);
    std::vector<double> shares(mix.size());
    for (int i = 0; i < draws; ++i) {
        uint32_t entry = chooser.next();
        REQUIRE(entry < mix.size());
        shares[entry] += 1.0 / draws;
    }
    return shares;
}

std::vector<uint32_t> draw_sequence(const std::vector<MixEntry>& mix, uint64_t seed, int thread, int draws = 1000) {
    MixChooser chooser(mix, seed, thread);
    std::vector<uint32_t> out;
    for (int i = 0; i < draws; ++i) out.push_back(chooser.next());
    return out;
}

// print_summary's output, as a string.
std::string summary_of(const Report& report) {
    char* text = nullptr;
    size_t len = 0;
    std::FILE* out = ::open_memstream(&text, &len);
    print_summary(out, report);
    std::fclose(out);
    std::string s(text, len);
    std::free(text);
    return s;
}

// A finished --mix run in miniature: 3 measured /hello (10, 20, 30 us) and 1 /sleep (5000 us) in 2 s.
struct MixRun {
    Options options;
    Stats stats;
    Report report;

    MixRun() {
        options.mix = parse_mix("/hello=95,/sleep?ms=50=5");
        stats.mix.resize(2);
        for (int64_t us : {10, 20, 30}) record(0, us);
        record(1, 5000);
        report = report_of(options, stats);
    }
    void record(size_t entry, int64_t us) {
        stats.latency_us.record(us);
        ++stats.requests;
        stats.mix[entry].latency_us.record(us);
        ++stats.mix[entry].requests;
    }
};

}  // namespace

TEST_SUITE("loadgen mix") {
    TEST_CASE("over many draws each entry's share is near its weight's") {
        for (const char* spec : {"/hello=95,/sleep?ms=50=5", "/a=1,/b=2,/c=7", "/hello=99.5,/sleep=0.5", "/a=1,/b=1,/c=1,/d=1"}) {
            CAPTURE(spec);
            auto mix = parse_mix(spec);
            auto shares = draw_shares(mix, 200'000);
            for (size_t i = 0; i < mix.size(); ++i) {
                CAPTURE(i);
                CHECK(shares[i] == doctest::Approx(mix[i].share).epsilon(0.05));  // within 5% of the share
            }
        }
    }

    TEST_CASE("every thread's draws follow the weights, not only thread 0's") {
        auto mix = parse_mix("/a=3,/b=1");
        for (int thread : {1, 7, 255}) {
            CAPTURE(thread);
            CHECK(draw_shares(mix, 100'000, 99, thread)[1] == doctest::Approx(0.25).epsilon(0.05));
        }
    }

    TEST_CASE("one entry is drawn every time") {
        auto mix = parse_mix("POST /echo hi=0.001");
        for (uint32_t entry : draw_sequence(mix, 5, 3)) REQUIRE(entry == 0);
    }

    TEST_CASE("a seed repeats its draws; another seed or thread draws others") {
        auto mix = parse_mix("/a=1,/b=1,/c=1");
        auto run = draw_sequence(mix, 1, 0);
        CHECK(draw_sequence(mix, 1, 0) == run);
        CHECK(draw_sequence(mix, 2, 0) != run);
        CHECK(draw_sequence(mix, 1, 1) != run);
        CHECK(draw_sequence(mix, 1, 1) == draw_sequence(mix, 1, 1));
    }

    TEST_CASE("consecutive draws are not stuck: a fair mix of two changes entry about half the time") {
        auto run = draw_sequence(parse_mix("/a=1,/b=1"), 1, 0, 100'000);
        int changes = 0;
        for (size_t i = 1; i < run.size(); ++i) changes += run[i] != run[i - 1];
        CHECK(changes / 100'000.0 == doctest::Approx(0.5).epsilon(0.05));
    }

    TEST_CASE("threads' per-entry stats merge into a total that starts empty") {
        Stats a, b, total;
        a.mix.resize(2), b.mix.resize(2);
        a.mix[0].requests = 3, a.mix[0].latency_us.record(100);
        b.mix[0].requests = 4, b.mix[0].latency_us.record(300);
        b.mix[1].requests = 1, b.mix[1].latency_us.record(7);
        total.merge(a);
        total.merge(b);
        REQUIRE(total.mix.size() == 2);
        CHECK(total.mix[0].requests == 7);
        CHECK(total.mix[0].latency_us.count() == 2);
        CHECK(total.mix[0].latency_us.max() == 300);
        CHECK(total.mix[1].requests == 1);
        Stats plain;
        plain.merge(Stats{});
        CHECK(plain.mix.empty());  // without --mix nothing appears
    }

    TEST_CASE("JSON: \"mix\" is null without --mix, and the old keys keep their meaning") {
        Options options;
        Stats stats;
        std::string json = to_json(report_of(options, stats));
        CHECK(json.find(",\"mix\":null}") != std::string::npos);
        CHECK(json.find("\"path\":\"/hello\",\"method\":\"GET\"") != std::string::npos);
    }

    TEST_CASE("JSON: one object per entry, in order, with its own count, rate and latencies") {
        MixRun run;
        std::string json = to_json(run.report);
        CHECK(json.find("\"path\":\"mix\",\"method\":\"\"") != std::string::npos);
        CHECK(json.find("\"requests\":4,\"rps\":2.0") != std::string::npos);  // the totals hold every entry
        CHECK(json.find(",\"mix\":[{\"entry\":\"GET /hello\",\"method\":\"GET\",\"path\":\"/hello\",\"weight\":95,"
                        "\"share\":0.95,\"requests\":3,\"rps\":1.5,\"latency_us\":{\"p50\":20,\"p90\":30,\"p99\":30,"
                        "\"p999\":30,\"max\":30,\"mean\":20.0}},{\"entry\":\"GET /sleep?ms=50\",\"method\":\"GET\","
                        "\"path\":\"/sleep?ms=50\",\"weight\":5,\"share\":0.05,\"requests\":1,\"rps\":0.5,"
                        "\"latency_us\":{\"p50\":5000,\"p90\":5000,\"p99\":5000,\"p999\":5000,\"max\":5000,"
                        "\"mean\":5000.0}}]}") != std::string::npos);
    }

    TEST_CASE("summary: the target says how many entries, and each entry has its line") {
        MixRun run;
        std::string text = summary_of(run.report);
        CHECK(text.find(" mix of 2 entries (expect 200)\n") != std::string::npos);
        CHECK(text.find("\n  GET /hello (95%):       3 requests  p50 20  p90 30  p99 30  p99.9 30  max 30 (us)\n") !=
              std::string::npos);
        CHECK(text.find("\n  GET /sleep?ms=50 (5%):  1 requests  p50 5000  p90 5000  p99 5000  p99.9 5000  max 5000 (us)\n") !=
              std::string::npos);
        CHECK(text.find("latency us:") < text.find("GET /hello (95%)"));  // right after the overall latencies

        Options plain;
        Stats stats;
        std::string without = summary_of(report_of(plain, stats));
        CHECK(without.find("GET /hello (expect 200)") != std::string::npos);
        CHECK(without.find("%):") == std::string::npos);
    }
}
