// loadgen: the course's measuring instrument, an epoll HTTP/1.1 load generator.
//
// It starts its client threads, then watches the clock: it reads the CPU time when the measured
// window opens and closes, prints a progress line each second of a long run, and reports.
#include "net.hpp"
#include "options.hpp"
#include "report.hpp"
#include "tls.hpp"
#include "worker.hpp"

#include <csignal>
#include <memory>
#include <sys/resource.h>
#include <thread>
#include <vector>

using namespace one;
using namespace one::loadgen;

namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kWatchStepNs = 20'000'000;  // how soon the watcher notices --requests stopped the run
constexpr double kProgressAfterS = 3;          // shorter runs print no progress lines
constexpr int kManyConnections = 10000;        // beyond this, suggest more source addresses

double cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);  // every thread of this process
    auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// SIGINT or SIGTERM ends the run early, and what was measured so far is still reported: a lab that
// holds a crowd open for as long as it needs it ends the crowd this way.
volatile std::sig_atomic_t g_interrupted = 0;
void on_interrupt(int) { g_interrupted = 1; }

// --tail: the lab opens and closes its count window with SIGUSR1 and SIGUSR2. The handler stamps
// the time itself (clock_gettime is async-signal-safe), so the window is exact, not polled.
SharedRun* g_run = nullptr;
void on_count_signal(int sig) {
    (sig == SIGUSR1 ? g_run->count_start_ns : g_run->count_end_ns).store(now_ns(), std::memory_order_relaxed);
}

// The i-th of `parts` equal shares of `total`, the first ones one larger when it does not divide.
int share_of(int total, int parts, int i) { return total / parts + (i < total % parts ? 1 : 0); }

std::vector<std::unique_ptr<Worker>> make_workers(const Options& o, SharedRun& run, int idle, const ClientContext* tls) {
    std::vector<std::unique_ptr<Worker>> workers;
    for (int t = 0; t < o.threads; ++t) {
        Share share{t, o.threads, share_of(o.connections, o.threads, t), share_of(idle, o.threads, t),
                    share_of(o.slow, o.threads, t)};
        workers.push_back(std::make_unique<Worker>(o, run, share, tls));
    }
    return workers;
}

void print_progress(const std::vector<std::unique_ptr<Worker>>& workers, const SharedRun& run, int64_t now,
                    uint64_t& last_completed) {
    uint64_t completed = 0, errors = 0;
    for (const auto& w : workers) {
        completed += w->progress_completed.load(std::memory_order_relaxed);
        errors += w->progress_errors.load(std::memory_order_relaxed);
    }
    std::fprintf(stderr, "loadgen: %5.1f s%s  %8llu req/s  %llu errors\n", static_cast<double>(now - run.start_ns) / 1e9,
                 now < run.window_start_ns ? " (warm-up)" : "          ",
                 static_cast<unsigned long long>(completed - last_completed), static_cast<unsigned long long>(errors));
    last_completed = completed;
}

// Waits until every worker has its share of the idle crowd held (or failed), or a signal says stop.
void wait_for_crowd(SharedRun& run, int workers) {
    while (run.crowds_settled.load(std::memory_order_acquire) < workers) {
        if (g_interrupted) run.stop = true;  // the workers leave their crowd loops at once, and the run ends
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

// Sleeps through the run in short steps. Returns the CPU seconds used inside the measured window.
double watch(const std::vector<std::unique_ptr<Worker>>& workers, SharedRun& run, bool progress) {
    double cpu_at_start = -1, cpu_at_end = -1;
    int64_t next_progress = progress ? run.start_ns + kSecond : INT64_MAX;
    uint64_t last_completed = 0;
    for (int64_t now = now_ns(); now < run.run_end_ns && !run.stop.load(std::memory_order_relaxed); now = now_ns()) {
        if (g_interrupted) {  // the measured window ends now, as when --requests is reached
            int64_t none = 0;
            if (now < run.window_end_ns) run.limit_reached_ns.compare_exchange_strong(none, std::max(now, run.window_start_ns));
            run.stop = true;
            break;
        }
        if (cpu_at_start < 0 && now >= run.window_start_ns) cpu_at_start = cpu_seconds();
        if (cpu_at_end < 0 && now >= run.window_end_ns) cpu_at_end = cpu_seconds();
        if (run.count_end_ns.load(std::memory_order_relaxed) != INT64_MAX) {  // the tail's count window closed
            run.stop = true;
            break;
        }
        if (now >= next_progress) {
            print_progress(workers, run, now, last_completed);
            next_progress += kSecond;
        }
        int64_t wake = std::min({now + kWatchStepNs, run.run_end_ns, next_progress});
        if (cpu_at_start < 0) wake = std::min(wake, run.window_start_ns);
        if (cpu_at_end < 0) wake = std::min(wake, run.window_end_ns);
        std::this_thread::sleep_for(std::chrono::nanoseconds(wake - now));
    }
    if (cpu_at_end < 0) cpu_at_end = cpu_seconds();
    return cpu_at_start < 0 ? 0 : cpu_at_end - cpu_at_start;
}

// The signalled count window's length, or 0 when it was not both opened and closed.
double count_window_s(const SharedRun& run) {
    int64_t start = run.count_start_ns.load(), end = run.count_end_ns.load();
    return start < end && end != INT64_MAX ? static_cast<double>(end - start) / 1e9 : 0;
}

int run_load(Options& o) {
    ignore_sigpipe();
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
    long fd_limit = raise_fd_limit();
    FdBudget budget = plan_fds(fd_limit, o);
    std::printf("fd limit:    %ld (soft limit raised to the hard limit)\n", fd_limit);
    if (!budget.error.empty()) throw std::runtime_error(budget.error + "; raise the hard limit (ulimit -Hn)");
    if (!budget.limited_by.empty()) std::fprintf(stderr, "loadgen: %s\n", budget.limited_by.c_str());
    if (o.source_ips.empty() && o.connections + o.slow + budget.idle > kManyConnections)
        std::fprintf(stderr, "loadgen: hint: past ~10k connections from one source address each connect searches "
                             "longer for a free port; --source-ips 127.0.0.1-127.0.0.8 spreads them\n");
    std::fflush(stdout);

    SharedRun run;
    if (o.tail_s > 0) {
        g_run = &run;
        std::signal(SIGUSR1, on_count_signal);
        std::signal(SIGUSR2, on_count_signal);
    }
    // One TLS context for every thread, complete before any of them starts, read-only after.
    std::unique_ptr<ClientContext> tls;
    if (o.tls) tls = std::make_unique<ClientContext>(o);
    auto workers = make_workers(o, run, budget.idle, tls.get());
    run.request_limit = o.requests;
    run.crowd_start_ns = now_ns();
    std::vector<std::thread> threads;
    for (auto& w : workers) threads.emplace_back([&w] { w->run(); });
    wait_for_crowd(run, static_cast<int>(workers.size()));
    // The lab waits for this line: its own clock starts with it.
    std::printf("starting:    %.2f s of warm-up, then %.2f s measured", o.warmup_s, o.duration_s);
    if (budget.idle > 0) std::printf(" (the idle crowd settled in %.2f s)", static_cast<double>(now_ns() - run.crowd_start_ns) / 1e9);
    std::printf("\n");
    std::fflush(stdout);
    run.start_ns = now_ns();
    run.window_start_ns = run.start_ns + static_cast<int64_t>(o.warmup_s * 1e9);
    run.window_end_ns = run.window_start_ns + static_cast<int64_t>(o.duration_s * 1e9);
    run.run_end_ns = run.window_end_ns + static_cast<int64_t>(o.tail_s * 1e9);
    run.go.store(true, std::memory_order_release);
    run.go.notify_all();
    double cpu = watch(workers, run, o.warmup_s + o.duration_s > kProgressAfterS);
    for (auto& t : threads) t.join();

    Stats total;
    for (const auto& w : workers) total.merge(w->stats);
    int64_t limit_ns = run.limit_reached_ns.load();
    Report report{&o, &total, fd_limit, budget.idle, describe_limits(budget.limited_by, total),
                  static_cast<double>((limit_ns ? limit_ns : run.window_end_ns) - run.window_start_ns) / 1e9, cpu,
                  count_window_s(run)};
    if (o.requests && total.requests < o.requests)
        std::fprintf(stderr, "loadgen: the --duration limit came before %llu requests\n", static_cast<unsigned long long>(o.requests));
    print_summary(stdout, report);
    if (!o.json_path.empty()) write_json(o.json_path, report);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"loadgen: an epoll HTTP/1.1 load generator for the one-loop servers (loopback only).\n"
                 "Closed loop by default; --rate makes it open loop, timing each request from when it was due."};
    Options options;
    add_options(cli, options);
    try {
        cli.parse(argc, argv);
        finish_options(options);
    } catch (const CLI::ParseError& e) {
        return cli.exit(e);
    }
    try {
        return run_load(options);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "loadgen: %s\n", e.what());
        return 1;
    }
}
