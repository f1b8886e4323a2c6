// report: the summary and the JSON. Every JSON key is always present, so scripts never guess.
#include "report.hpp"

#include "common/sys.hpp"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <vector>

namespace one::loadgen {

namespace {

std::string format(const char* fmt, auto... args) {
    char text[256];
    std::snprintf(text, sizeof text, fmt, args...);
    return text;
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\', out += c;
        else if (static_cast<unsigned char>(c) < 0x20) out += format("\\u%04x", c);
        else out += c;
    }
    return out + "\"";
}

std::string mode_of(const Options& o) { return o.open_loop() ? "open" : "closed"; }

// "at most 16384 B/s per busy connection, SO_RCVBUF 8192 B asked": --read-rate and --rcvbuf in words.
std::string reading_of(const Options& o) {
    std::string out = o.slow_reading() ? "at most " + std::to_string(o.read_rate) + " B/s per busy connection"
                                       : "as fast as it can";
    if (o.rcvbuf > 0) out += ", SO_RCVBUF " + std::to_string(o.rcvbuf) + " B asked";
    return out;
}

std::string error_list(const ErrorCounts& errors) {
    std::string out;
    for (size_t i = 0; i < kErrorKinds; ++i)
        if (errors[i]) out += (out.empty() ? "" : ", ") + std::string(kErrorNames[i]) + " " + std::to_string(errors[i]);
    return out.empty() ? "none" : out;
}

std::string latency_json(const Histogram& h) {
    auto n = [](auto v) { return std::to_string(v); };
    return "{\"p50\":" + n(h.percentile(50)) + ",\"p90\":" + n(h.percentile(90)) + ",\"p99\":" + n(h.percentile(99)) +
           ",\"p999\":" + n(h.percentile(99.9)) + ",\"max\":" + n(h.max()) + ",\"mean\":" + format("%.1f", h.mean()) + "}";
}

// "[{entry, method, path, weight, share, requests, rps, latency_us}, ...]", or null without --mix.
std::string mix_json(const Report& r) {
    const std::vector<MixEntry>& mix = r.options->mix;
    if (mix.empty()) return "null";
    std::string j = "[";
    for (size_t i = 0; i < mix.size(); ++i) {
        const MixEntry& e = mix[i];
        const EntryStats& s = r.stats->mix.at(i);
        j += (i ? ",{\"entry\":" : "{\"entry\":") + json_string(e.label()) + ",\"method\":" + json_string(e.method);
        j += ",\"path\":" + json_string(e.path) + ",\"weight\":" + format("%.6g", e.weight);
        j += ",\"share\":" + format("%.6g", e.share) + ",\"requests\":" + std::to_string(s.requests);
        j += ",\"rps\":" + format("%.1f", r.window_s > 0 ? static_cast<double>(s.requests) / r.window_s : 0.0);
        j += ",\"latency_us\":" + latency_json(s.latency_us) + "}";
    }
    return j + "]";
}

// One line per --mix entry, under the overall latency line; labels padded so the numbers line up.
void print_mix(std::FILE* out, const Report& r) {
    const std::vector<MixEntry>& mix = r.options->mix;
    std::vector<std::string> names;
    size_t width = 0;
    for (const MixEntry& e : mix) {
        names.push_back(e.label() + " (" + format("%.4g", e.share * 100) + "%):");
        width = std::max(width, names.back().size());
    }
    for (size_t i = 0; i < mix.size(); ++i) {
        const Histogram& h = r.stats->mix.at(i).latency_us;
        std::fprintf(out, "  %-*s  %llu requests  p50 %lld  p90 %lld  p99 %lld  p99.9 %lld  max %lld (us)\n",
                     static_cast<int>(width), names[i].c_str(), static_cast<unsigned long long>(r.stats->mix.at(i).requests),
                     static_cast<long long>(h.percentile(50)), static_cast<long long>(h.percentile(90)),
                     static_cast<long long>(h.percentile(99)), static_cast<long long>(h.percentile(99.9)),
                     static_cast<long long>(h.max()));
    }
}

void print_crowds(std::FILE* out, const Report& r) {
    const Options& o = *r.options;
    const Stats& s = *r.stats;
    if (o.idle > 0) {
        std::fprintf(out, "idle:        %d asked, %d opened, %llu held to the end, %llu closed by the server", o.idle,
                     r.idle_opened, static_cast<unsigned long long>(s.idle_held),
                     static_cast<unsigned long long>(s.idle_closed_by_server));
        if (s.idle_ready_ns > 0) std::fprintf(out, " (all settled in %.2f s, before the warm-up began)", s.idle_ready_ns / 1e9);
        std::fprintf(out, "\n");
    }
    if (o.slow > 0)
        std::fprintf(out, "slow:        %d clients, one byte per %d ms: %llu requests completed; failures: %s\n", o.slow,
                     o.slow_interval_ms, static_cast<unsigned long long>(s.slow_completed), error_list(s.slow_errors).c_str());
}

// "812 full (p50 640 us, p99 1900 us)": handshakes of one kind in the window, and how long they took.
std::string handshakes_of(uint64_t count, const char* kind, const Histogram& h) {
    std::string out = std::to_string(count) + " " + kind;
    if (h.count() > 0)
        out += format(" (p50 %lld us, p99 %lld us)", static_cast<long long>(h.percentile(50)), static_cast<long long>(h.percentile(99)));
    return out;
}

// Handshakes in the window per measured request: 1.00 with --close, about 0 with keep-alive.
double handshakes_per_request(const Stats& s) {
    return s.requests ? static_cast<double>(s.tls.window_full + s.tls.window_resumed) / static_cast<double>(s.requests) : 0;
}

// --tls only: the handshakes in the window (with --close, one per request), then the whole run's.
void print_tls(std::FILE* out, const Report& r) {
    const Options& o = *r.options;
    const TlsStats& t = r.stats->tls;
    if (!o.tls) return;
    std::string how = (t.version.empty() ? "no handshake finished" : t.version) + ", " + o.tls_handshake;
    if (!o.tls_sni.empty()) how += ", SNI " + o.tls_sni;
    std::fprintf(out, "tls:         %s; window: %s, %s, %.2f per request\n", how.c_str(),
                 handshakes_of(t.window_full, "full", t.full_us).c_str(),
                 handshakes_of(t.window_resumed, "resumed", t.resumed_us).c_str(), handshakes_per_request(*r.stats));
    std::fprintf(out, "             whole run: %llu full, %llu resumed, %llu tickets refused, %llu failed, "
                      "%llu tickets received, %llu ended without close_notify\n",
                 static_cast<unsigned long long>(t.full), static_cast<unsigned long long>(t.resumed),
                 static_cast<unsigned long long>(t.not_resumed), static_cast<unsigned long long>(t.failed),
                 static_cast<unsigned long long>(t.tickets), static_cast<unsigned long long>(t.unclean_closes));
}

// {"handshake", "version", "sni", "window": {...}, "run": {...}}, or null without --tls.
std::string tls_json(const Report& r) {
    const Options& o = *r.options;
    const TlsStats& t = r.stats->tls;
    if (!o.tls) return "null";
    auto n = [](auto v) { return std::to_string(v); };
    std::string j = "{\"handshake\":" + json_string(o.tls_handshake) + ",\"version\":" + json_string(t.version);
    j += ",\"sni\":" + json_string(o.tls_sni);
    j += ",\"window\":{\"full\":" + n(t.window_full) + ",\"resumed\":" + n(t.window_resumed);
    j += ",\"per_request\":" + format("%.3f", handshakes_per_request(*r.stats)) + ",\"full_us\":" + latency_json(t.full_us);
    j += ",\"resumed_us\":" + latency_json(t.resumed_us) + "}";
    j += ",\"run\":{\"full\":" + n(t.full) + ",\"resumed\":" + n(t.resumed) + ",\"not_resumed\":" + n(t.not_resumed);
    j += ",\"failed\":" + n(t.failed) + ",\"tickets\":" + n(t.tickets) + ",\"unclean_closes\":" + n(t.unclean_closes) + "}}";
    return j;
}

}  // namespace

double Report::rps() const { return window_s > 0 ? static_cast<double>(stats->requests) / window_s : 0; }

double Report::cpu_us_per_request() const {
    return stats->requests ? cpu_s * 1e6 / static_cast<double>(stats->requests) : 0;
}

std::string describe_limits(const std::string& fd_cap, const Stats& s) {
    std::string out = fd_cap;
    auto add = [&](const std::string& sentence) { out += (out.empty() ? "" : "; ") + sentence; };
    if (s.ports_exhausted)
        add("ran out of ephemeral ports (" + std::to_string(s.ports_exhausted) +
            " connects failed with EADDRNOTAVAIL): spread connections over several source addresses with "
            "--source-ips 127.0.0.1-127.0.0.8");
    if (s.out_of_fds)
        add("ran out of file descriptors (" + std::to_string(s.out_of_fds) + " sockets refused with EMFILE/ENFILE)");
    return out;
}

void print_summary(std::FILE* out, const Report& r) {
    const Options& o = *r.options;
    const Stats& s = *r.stats;
    const Histogram& h = s.latency_us;
    std::string what = o.mix.empty() ? o.method + " " + o.path : "mix of " + std::to_string(o.mix.size()) + " entries";
    std::fprintf(out, "target:      %s %s (expect %d)\n", host_and_port(o).c_str(), what.c_str(), o.expect_status);
    if (o.open_loop())
        std::fprintf(out, "mode:        open loop at %.0f req/s over %d connections, pipeline %d, %d thread(s)\n", o.rate,
                     o.connections, o.pipeline, o.threads);
    else
        std::fprintf(out, "mode:        closed loop, %d connections, pipeline %d, %d thread(s)\n", o.connections, o.pipeline, o.threads);
    if (o.slow_reading() || o.rcvbuf > 0)  // only then: other runs' summaries stay as they were
        std::fprintf(out, "reading:     %s\n", reading_of(o).c_str());
    std::fprintf(out, "window:      %.2f s after %.2f s of warm-up\n", r.window_s, o.warmup_s);
    std::fprintf(out, "requests:    %llu (%.0f req/s), %.1f MB received\n", static_cast<unsigned long long>(s.requests),
                 r.rps(), static_cast<double>(s.bytes_received) / 1e6);
    std::fprintf(out, "latency us:  p50 %lld  p90 %lld  p99 %lld  p99.9 %lld  max %lld  mean %.1f%s\n",
                 static_cast<long long>(h.percentile(50)), static_cast<long long>(h.percentile(90)),
                 static_cast<long long>(h.percentile(99)), static_cast<long long>(h.percentile(99.9)),
                 static_cast<long long>(h.max()), h.mean(), o.open_loop() ? " (from each request's scheduled time)" : "");
    print_mix(out, r);
    std::fprintf(out, "errors:      %s (whole run, warm-up included); %llu reconnects\n", error_list(s.errors).c_str(),
                 static_cast<unsigned long long>(s.reconnects));
    print_crowds(out, r);
    print_tls(out, r);
    std::fprintf(out, "client CPU:  %.3f s in the window, %.2f us per request; fd limit %ld\n", r.cpu_s,
                 r.cpu_us_per_request(), r.fd_limit);
    if (r.count_window_s > 0)
        std::fprintf(out, "count:       %llu requests in the %.3f s signalled window after it\n",
                     static_cast<unsigned long long>(s.count_window_requests), r.count_window_s);
    if (!r.limited_by.empty()) std::fprintf(out, "limited by:  %s\n", r.limited_by.c_str());
}

std::string to_json(const Report& r) {
    const Options& o = *r.options;
    const Stats& s = *r.stats;
    auto n = [](auto v) { return std::to_string(v); };
    bool mixed = !o.mix.empty();
    std::string j = "{\"tool\":\"loadgen\",\"target\":" + json_string(host_and_port(o));
    j += ",\"path\":" + json_string(mixed ? "mix" : o.path) + ",\"method\":" + json_string(mixed ? "" : o.method);
    j += ",\"mode\":\"" + mode_of(o) + "\",\"connections\":" + n(o.connections) + ",\"pipeline\":" + n(o.pipeline);
    j += ",\"rate\":" + format("%.6g", o.rate) + ",\"threads\":" + n(o.threads);
    j += ",\"read_rate\":" + n(o.read_rate) + ",\"rcvbuf\":" + n(o.rcvbuf);
    j += ",\"idle_requested\":" + n(o.idle) + ",\"idle_held\":" + n(s.idle_held);
    j += ",\"idle_closed_by_server\":" + n(s.idle_closed_by_server);
    j += ",\"slow\":" + n(o.slow) + ",\"slow_completed\":" + n(s.slow_completed);
    j += ",\"duration_s\":" + format("%.3f", r.window_s) + ",\"warmup_s\":" + format("%.3f", o.warmup_s);
    j += ",\"requests\":" + n(s.requests) + ",\"rps\":" + format("%.1f", r.rps());
    j += ",\"bytes_received\":" + n(s.bytes_received);
    j += ",\"latency_us\":" + latency_json(s.latency_us);
    j += ",\"errors\":{";
    for (size_t i = 0; i < kErrorKinds; ++i)
        j += (i ? ",\"" : "\"") + std::string(kErrorNames[i]) + "\":" + n(s.errors[i]);
    j += "},\"reconnects\":" + n(s.reconnects) + ",\"fd_limit\":" + n(r.fd_limit);
    j += ",\"limited_by\":" + json_string(r.limited_by) + ",\"client_cpu_s\":" + format("%.3f", r.cpu_s);
    j += ",\"client_cpu_us_per_request\":" + format("%.2f", r.cpu_us_per_request());
    j += ",\"count_window\":" + (r.count_window_s > 0 ? "{\"seconds\":" + format("%.4f", r.count_window_s) +
                                                          ",\"requests\":" + n(s.count_window_requests) + "}"
                                                    : std::string("null"));
    j += ",\"tls\":" + tls_json(r);
    j += ",\"mix\":" + mix_json(r);  // still the last key
    j += "}\n";
    return j;
}

void write_json(const std::string& path, const Report& report) {
    std::ofstream file(path, std::ios::trunc);
    file << to_json(report);
    file.close();
    if (!file) throw_errno("cannot write " + path, errno ? errno : EIO);
}

}  // namespace one::loadgen
