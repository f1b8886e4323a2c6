// file_server: chapter 07's server as a whole, its start-up and its workers, so that chapter 11 can
// serve the same files with TLS before every client, and nothing copied.
#pragma once

#include "chapters/06-reuseport/master.hpp"
#include "chapters/06-reuseport/worker.hpp"
#include "common/static_files.hpp"

#include <functional>
#include <optional>
#include <string>

namespace one {

struct FileServing {
    std::optional<std::string> root;  // none: no files, only the routes
    bool copy = false;  // --copy: pread and send instead of sendfile
    std::string sent_with;  // for the log, when something else decides (chapter 11's TLS); empty: from `copy`
};

// Opens the root and the listeners, forks the workers and runs until stopped. `with_master` may
// add to the master before it starts, `each_loop` runs in each worker before its loop (chapter 11:
// a reload hook, and TLS on every connection).
inline void serve_files(const ServerOptions& options, EventOptions events, const WorkerOptions& workers,
                        const FileServing& serving, const std::string& name, const std::string& model,
                        const std::function<void(Master&)>& with_master = {},
                        const std::function<void(int slot, EventServer&)>& each_loop = {}) {
    events.file_sending = serving.copy ? FileSending::Copy : FileSending::Sendfile;
    // Opened once, before anything listens: a missing root is a setup error (exit 1), and every
    // worker inherits the open directory, so a root renamed later cannot mean another directory.
    std::optional<StaticFiles> files;
    if (serving.root) files.emplace(*serving.root);
    std::vector<Fd> listeners = open_listeners(options, workers);
    // The sockets listen already: clients that come before the workers wait in the accept queues.
    announce_listening(listeners[0].get());
    log_line(std::to_string(workers.count) + " workers, " +
             (workers.shared_listener ? "one shared listening socket" : "a listening socket each"));
    if (files)
        log_line("files under " + *serving.root + ": opened with " + describe(files->root().method()) + "; sent with " +
                 (!serving.sent_with.empty() ? serving.sent_with : serving.copy ? "pread and send (--copy)" : "sendfile"));
    App app(name, model, files ? &*files : nullptr);
    Master master(std::move(listeners), workers.count, workers.grace_seconds, [&](int slot, Fd listener) {
        run_worker(slot, std::move(listener), app, options, events, workers, [&](EventServer& server) {
            if (each_loop) each_loop(slot, server);
        });
    });
    if (with_master) with_master(master);
    master.run();
}

}  // namespace one
