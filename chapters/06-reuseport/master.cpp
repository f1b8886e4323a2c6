// master: start, watch and restart the worker processes; turn signals into orders.
#include "master.hpp"

#include "common/log.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <sys/wait.h>
#include <unistd.h>

namespace one {

static std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
    return "stopped";
}

Master::Master(std::vector<Fd> listeners, int workers, int grace_seconds, WorkerMain worker_main)
    : listeners_(std::move(listeners)), worker_count_(workers), grace_seconds_(grace_seconds),
      worker_main_(std::move(worker_main)) {}

int Master::listener_for(int slot) const {
    return listeners_[listeners_.size() == 1 ? 0 : static_cast<size_t>(slot)].get();
}

pid_t Master::spawn(int slot) {
    pid_t pid = fork();
    if (pid < 0) {
        log_line(std::string("fork: ") + std::strerror(errno));
        return -1;
    }
    if (pid == 0) {
        sigset_t none;  // the master blocks the signals it waits for; a worker must feel them
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        // Keep only this slot's listener: the others belong to other workers.
        Fd own(::dup(listener_for(slot)));
        listeners_.clear();
        worker_main_(slot, std::move(own));
        _exit(0);
    }
    workers_.push_back({pid, slot, false});
    return pid;
}

void Master::reap() {
    int status;
    for (pid_t pid; (pid = waitpid(-1, &status, WNOHANG)) > 0;) {
        auto it = std::find_if(workers_.begin(), workers_.end(), [pid](const Worker& w) { return w.pid == pid; });
        if (it == workers_.end()) continue;
        Worker gone = *it;
        workers_.erase(it);
        log_line("worker " + std::to_string(gone.slot) + " (pid " + std::to_string(pid) + ") " + describe_exit(status));
        if (!gone.retiring && !stopping_) {
            log_line("restarting worker " + std::to_string(gone.slot));
            spawn(gone.slot);
        }
    }
}

void Master::signal_workers(int sig, bool current_only) {
    for (Worker& w : workers_) {
        if (current_only && w.retiring) continue;
        w.retiring = true;
        kill(w.pid, sig);
    }
}

// New workers first: they take from the same listening sockets, which stay open in the master all
// along, so a client that arrives between the two steps waits in the accept queue, not in vain.
void Master::reload() {
    log_line("reload: starting new workers, then retiring the old ones");
    std::vector<pid_t> old;
    for (const Worker& w : workers_)
        if (!w.retiring) old.push_back(w.pid);
    for (int slot = 0; slot < worker_count_; ++slot) spawn(slot);
    for (Worker& w : workers_)
        if (std::find(old.begin(), old.end(), w.pid) != old.end()) {
            w.retiring = true;
            kill(w.pid, SIGTERM);
        }
}

int Master::run() {
    sigset_t wanted;
    sigemptyset(&wanted);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&wanted, sig);
    sigprocmask(SIG_BLOCK, &wanted, nullptr);  // delivered only through sigtimedwait() below
    for (int slot = 0; slot < worker_count_; ++slot) spawn(slot);

    auto give_up = std::chrono::steady_clock::time_point::max();
    while (!(stopping_ && workers_.empty())) {
        timespec tick{0, 200'000'000};
        int sig = sigtimedwait(&wanted, nullptr, &tick);
        if (sig == SIGCHLD) reap();
        if ((sig == SIGTERM || sig == SIGINT) && !stopping_) {
            log_line(std::string("stopping: workers finish what they serve, for up to ") + std::to_string(grace_seconds_) + " s");
            stopping_ = true;
            signal_workers(SIGTERM, false);
            give_up = std::chrono::steady_clock::now() + std::chrono::seconds(grace_seconds_);
        }
        if (sig == SIGHUP && !stopping_) reload();
        if (std::chrono::steady_clock::now() > give_up) {
            log_line("grace period over: killing the workers left");
            signal_workers(SIGKILL, false);
            give_up = std::chrono::steady_clock::time_point::max();
        }
        reap();  // SIGCHLDs merge: a missed one is caught here
    }
    return 0;
}

}  // namespace one
