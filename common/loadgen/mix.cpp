// mix: parsing --mix, and the weighted draw.
#include "mix.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cmath>

namespace one::loadgen {

namespace {

constexpr const char* kEntryForm = "expected [METHOD ]PATH[ BODY]=WEIGHT, e.g. /hello=95 or POST /echo hi=5";

[[noreturn]] void fail_entry(const std::string& entry, const std::string& why) {
    throw CLI::ValidationError("--mix", "entry '" + entry + "': " + why);
}

bool is_method(const std::string& s) {
    return !s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string::npos;
}

// Spaces around an entry are the comma's, not the entry's: '/a=1, /b=1' reads as meant.
std::string trim(const std::string& s) {
    size_t first = s.find_first_not_of(' ');
    if (first == std::string::npos) return "";
    return s.substr(first, s.find_last_not_of(' ') - first + 1);
}

// Every piece between commas, empty ones included (getline would drop a trailing one).
std::vector<std::string> split_entries(const std::string& text) {
    std::vector<std::string> out;
    for (size_t from = 0;; ) {
        size_t comma = text.find(',', from);
        out.push_back(trim(text.substr(from, comma - from)));
        if (comma == std::string::npos) return out;
        from = comma + 1;
    }
}

double parse_weight(const std::string& entry, const std::string& text) {
    double weight = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), weight);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(weight) || weight <= 0)
        fail_entry(entry, "the weight '" + text + "' after the last '=' is not a positive number");
    return weight;
}

// "[METHOD ]PATH[ BODY]": the entry without its "=WEIGHT".
void parse_request(const std::string& entry, const std::string& spec, MixEntry& e) {
    size_t path_at = 0;
    if (spec.empty() || spec[0] != '/') {  // a method first: an upper-case token, then one space
        size_t space = spec.find(' ');
        std::string method = spec.substr(0, space);
        if (!is_method(method)) fail_entry(entry, "the path must start with '/' (" + std::string(kEntryForm) + ")");
        e.method = method;
        path_at = space + 1;
        if (space == std::string::npos || path_at >= spec.size() || spec[path_at] != '/')
            fail_entry(entry, "after the method " + method + " comes one space and a path starting with '/'");
    }
    size_t space = spec.find(' ', path_at);
    e.path = spec.substr(path_at, space - path_at);
    if (space != std::string::npos) e.body = spec.substr(space + 1);
    if (e.path.find_first_of("\t\r\n") != std::string::npos) fail_entry(entry, "the path must not contain line breaks");
}

MixEntry parse_entry(const std::string& entry, size_t number) {
    if (entry.empty())
        throw CLI::ValidationError("--mix", "entry " + std::to_string(number) + " is empty (two commas in a row, or one at an end)");
    size_t equals = entry.rfind('=');
    if (equals == std::string::npos) fail_entry(entry, "no '=WEIGHT' (" + std::string(kEntryForm) + ")");
    MixEntry e;
    e.weight = parse_weight(entry, entry.substr(equals + 1));
    parse_request(entry, entry.substr(0, equals), e);
    return e;
}

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
    return z ^ (z >> 31);
}

}  // namespace

std::vector<MixEntry> parse_mix(const std::string& text) {
    std::vector<MixEntry> entries;
    for (const std::string& entry : split_entries(text)) entries.push_back(parse_entry(entry, entries.size() + 1));
    if (entries.size() > kMaxMixEntries)
        throw CLI::ValidationError("--mix", std::to_string(entries.size()) + " entries; at most " +
                                                std::to_string(kMaxMixEntries));
    double total = 0;
    for (const MixEntry& e : entries) total += e.weight;
    if (!(total > 0) || !std::isfinite(total))
        throw CLI::ValidationError("--mix", "the total weight must be a positive finite number");
    for (MixEntry& e : entries) e.share = e.weight / total;
    return entries;
}

MixChooser::MixChooser(const std::vector<MixEntry>& entries, uint64_t seed, int thread) {
    double sum = 0;
    for (const MixEntry& e : entries) bounds_.push_back(sum += e.share);
    if (!bounds_.empty()) bounds_.back() = 1.0;  // rounding must not leave a gap at the top
    uint64_t thread_state = static_cast<uint64_t>(thread);
    state_ = seed ^ splitmix64(thread_state);
}

uint64_t MixChooser::random64() { return splitmix64(state_); }

uint32_t MixChooser::next() {
    double u = static_cast<double>(random64() >> 11) * 0x1p-53;  // uniform in [0, 1), 53 bits
    auto i = static_cast<size_t>(std::upper_bound(bounds_.begin(), bounds_.end(), u) - bounds_.begin());
    return static_cast<uint32_t>(std::min(i, bounds_.size() - 1));
}

}  // namespace one::loadgen
