// mix: --mix, a workload of several kinds of request, each drawn at random by weight and timed apart.
//
//     --mix '/hello=95,/sleep?ms=50=5'   ->  GET /hello 95% of the time, GET /sleep?ms=50 5%
//
// An entry is [METHOD ]PATH[ BODY]=WEIGHT. The weight is what follows the LAST '=', so paths and
// bodies may hold '='; entries are cut at every ',', so neither may hold a comma. The method, when
// given, is an upper-case token and one space; the body is whatever follows the first space after
// the path. Weights are relative: '/a=3,/b=1' is the same mix as '/a=75,/b=25'.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace one::loadgen {

inline constexpr size_t kMaxMixEntries = 64;  // each costs a histogram (34 KB) per thread

struct MixEntry {
    std::string method = "GET";
    std::string path;
    std::string body;   // sent with Content-Length; "" sends none (except for POST and PUT)
    double weight = 0;  // > 0, relative to the other entries' weights
    double share = 0;   // weight / the total weight: the fraction of requests expected to be this one

    std::string label() const { return method + " " + path; }  // "GET /hello": the summary's and JSON's name
};

// Parses --mix. Throws CLI::ValidationError for --mix, quoting the entry at fault.
std::vector<MixEntry> parse_mix(const std::string& text);

// Draws entries by weight. Its own PRNG (splitmix64) rather than <random>'s distributions, whose
// output differs between standard libraries: the same seed and thread give the same draws anywhere.
class MixChooser {
public:
    // Each thread mixes its number into the seed, so threads draw different sequences.
    MixChooser(const std::vector<MixEntry>& entries, uint64_t seed, int thread);

    uint32_t next();  // the index of the next request's entry

private:
    uint64_t random64();

    std::vector<double> bounds_;  // cumulative shares: entry i is drawn when u < bounds_[i]; the last is 1
    uint64_t state_ = 0;
};

}  // namespace one::loadgen
