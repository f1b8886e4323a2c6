// Chapter 08: threadpool. Chapter 07's server (master, SO_REUSEPORT workers, files with sendfile),
// and in each worker a fixed pool of --threads threads. The loop still never waits: what would make
// it wait (/sleep, /cpu, opening a file whose path is not cached, a stretch of file that is not in
// the page cache) is handed to the pool as a job that owns copies of what it needs
// (handoff.hpp), and the answer comes back through an eventfd the loop watches (thread_pool.hpp).
// Everything else is answered on the loop, as in chapter 07, and costs what it cost there.
#include "chapters/06-reuseport/master.hpp"
#include "chapters/06-reuseport/worker.hpp"
#include "common/page_cache.hpp"
#include "common/static_files.hpp"
#include "handoff.hpp"

#include <optional>
#include <sys/syscall.h>
#include <unistd.h>

using namespace one;

int main(int argc, char** argv) {
    CLI::App cli{"08-threadpool: 07's workers, with a thread pool for the work that would block the loop"};
    ServerOptions options;
    EventOptions events;
    WorkerOptions workers;
    bool copy = false;
    std::string root;
    int threads = 4;     // libuv's default (UV_THREADPOOL_SIZE)
    int queue = 1024;
    add_server_options(cli, options, 8008);
    add_event_options(cli, events);
    add_worker_options(cli, workers);
    auto* root_option = cli.add_option("--root", root, "serve the files under this directory (paths that are not routes)");
    cli.add_flag("--copy", copy, "send files through a user-space buffer (pread, then send) instead of sendfile")->needs(root_option);
    cli.add_option("--threads", threads, "threads in each worker's pool")->capture_default_str()->check(CLI::Range(1, 1024));
    cli.add_option("--queue", queue, "jobs that may wait for a thread; beyond that a request gets 503")
        ->capture_default_str()
        ->check(CLI::Range(0, 1'000'000));
    CLI11_PARSE(cli, argc, argv);
    events.file_sending = copy ? FileSending::Copy : FileSending::Sendfile;

    return run_server([&] {
        // Opened once, before anything listens: a missing root is a setup error (exit 1), and every
        // worker inherits the open directory, so a root renamed later cannot mean another directory.
        std::optional<StaticFiles> files;
        if (*root_option) files.emplace(root);
        std::vector<Fd> listeners = open_listeners(options, workers);
        // The sockets listen already: clients that come before the workers wait in the accept queues.
        announce_listening(listeners[0].get());
        log_line(std::to_string(workers.count) + " workers, " +
                 (workers.shared_listener ? "one shared listening socket" : "a listening socket each") + "; " +
                 std::to_string(threads) + " threads and room for " + std::to_string(queue) + " waiting jobs in each");
        if (files)
            log_line("files under " + root + ": opened with " + describe(files->root().method()) + "; sent with " +
                     (copy ? "pread and send (--copy)" : "sendfile") + "; page cache asked with " + describe(cache_probe()));
        App app("08-threadpool", "Chapter 07's workers, each with a thread pool for the work that would block its loop.",
                files ? &*files : nullptr);
        Master master(std::move(listeners), workers.count, workers.grace_seconds, [&](int slot, Fd listener) {
            Handoff pool(app, threads, static_cast<size_t>(queue));  // here, after the fork, in the worker
            run_worker(slot, std::move(listener), app, options, events, workers, [&](EventServer& server) { pool.serve(server); });
            bool idle = pool.stop(std::chrono::steady_clock::now());  // every connection is done now
            log_line("worker " + std::to_string(slot) + " pool: " + pool.summary());
            if (idle) return;
            // Jobs whose clients are gone may still be running, and a sleeping thread cannot be
            // interrupted. Nobody waits for their answers: the worker exits under them.
            log_line("worker " + std::to_string(slot) + ": " + std::to_string(pool.busy()) + " jobs still running, not waited for");
            ::syscall(SYS_exit_group, 0);  // not _exit(), which a sanitizer's runtime hooks, and waits in
        });
        master.run();
    });
}
