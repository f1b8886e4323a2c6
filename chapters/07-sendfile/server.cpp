// Chapter 07: sendfile. Chapter 06's master and SO_REUSEPORT workers, each running chapter 05's
// epoll loop, now also serve the files under --root. A file's bytes go from the page cache to the
// socket inside the kernel, with sendfile(2), and never through a buffer of ours
// (common/send_file.cpp); --copy sends the same bytes the long way, pread into a buffer and send,
// to measure what sendfile saves. A path is opened beneath the root with openat2 and
// RESOLVE_BENEATH (common/open_beneath.cpp), so no request, symlink or race can read outside it.
// What a file answer says (Last-Modified, 304, Range and 206) is in common/static_files.cpp.
#include "chapters/06-reuseport/master.hpp"
#include "chapters/06-reuseport/worker.hpp"
#include "common/static_files.hpp"

#include <optional>

using namespace one;

int main(int argc, char** argv) {
    CLI::App cli{"07-sendfile: 06's master and epoll workers, serving files with sendfile"};
    ServerOptions options;
    EventOptions events;
    WorkerOptions workers;
    bool copy = false;
    std::string root;
    add_server_options(cli, options, 8007);
    add_event_options(cli, events);
    add_worker_options(cli, workers);
    auto* root_option = cli.add_option("--root", root, "serve the files under this directory (paths that are not routes)");
    cli.add_flag("--copy", copy, "send files through a user-space buffer (pread, then send) instead of sendfile")->needs(root_option);
    CLI11_PARSE(cli, argc, argv);
    events.file_sending = copy ? FileSending::Copy : FileSending::Sendfile;

    return run_server([&] {
        // Opened once, before anything listens: a missing root is a setup error (exit 1), and every
        // worker inherits the open directory, so a root renamed later cannot mean another directory.
        std::optional<StaticFiles> files;
        if (*root_option) files.emplace(root);
        std::vector<Fd> listeners = open_listeners(options, workers.shared_listener ? 1 : workers.count);
        // The sockets listen already: clients that come before the workers wait in the accept queues.
        announce_listening(listeners[0].get());
        log_line(std::to_string(workers.count) + " workers, " +
                 (workers.shared_listener ? "one shared listening socket" : "a listening socket each"));
        if (files)
            log_line("files under " + root + ": opened with " + describe(files->root().method()) + "; sent with " +
                     (copy ? "pread and send (--copy)" : "sendfile"));
        App app("07-sendfile", "Chapter 06's master and epoll workers, sending files from the page cache with sendfile.",
                files ? &*files : nullptr);
        Master master(std::move(listeners), workers.count, workers.grace_seconds,
                      [&](int slot, Fd listener) { run_worker(slot, std::move(listener), app, options, events, workers); });
        master.run();
    });
}
