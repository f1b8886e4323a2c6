// stats: errno sorting and merging.
#include "stats.hpp"

#include <algorithm>
#include <cerrno>
#include <numeric>

namespace one::loadgen {

ErrorKind classify_errno(int err) {
    switch (err) {
    case ECONNREFUSED: return ErrorKind::Refused;
    case ECONNRESET:
    case EPIPE: return ErrorKind::Reset;
    case ETIMEDOUT: return ErrorKind::Timeout;
    case EPROTO: return ErrorKind::Tls;
    default: return ErrorKind::Other;
    }
}

void TlsStats::merge(const TlsStats& o) {
    window_full += o.window_full;
    window_resumed += o.window_resumed;
    full_us.merge(o.full_us);
    resumed_us.merge(o.resumed_us);
    full += o.full;
    resumed += o.resumed;
    not_resumed += o.not_resumed;
    failed += o.failed;
    tickets += o.tickets;
    unclean_closes += o.unclean_closes;
    if (version.empty()) version = o.version;
}

uint64_t Stats::error_total() const { return std::accumulate(errors.begin(), errors.end(), uint64_t{0}); }

void Stats::merge(const Stats& o) {
    latency_us.merge(o.latency_us);
    requests += o.requests;
    bytes_received += o.bytes_received;
    completed_total += o.completed_total;
    count_window_requests += o.count_window_requests;
    for (size_t i = 0; i < kErrorKinds; ++i) {
        errors[i] += o.errors[i];
        slow_errors[i] += o.slow_errors[i];
    }
    slow_completed += o.slow_completed;
    reconnects += o.reconnects;
    ports_exhausted += o.ports_exhausted;
    out_of_fds += o.out_of_fds;
    idle_held += o.idle_held;
    idle_closed_by_server += o.idle_closed_by_server;
    idle_ready_ns = std::max(idle_ready_ns, o.idle_ready_ns);
    if (mix.size() < o.mix.size()) mix.resize(o.mix.size());  // a fresh total starts empty
    for (size_t i = 0; i < o.mix.size(); ++i) {
        mix[i].latency_us.merge(o.mix[i].latency_us);
        mix[i].requests += o.mix[i].requests;
    }
    tls.merge(o.tls);
}

}  // namespace one::loadgen
