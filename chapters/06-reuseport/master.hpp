// master: the process that serves no one. It opens the listening sockets, starts one worker
// process per core, restarts a worker that dies, and turns signals into orders:
//   SIGTERM, SIGINT  stop: workers finish what they are serving, then exit (killed after --grace)
//   SIGHUP           reload: start a new set of workers, then retire the old set, dropping nothing
// This is nginx's shape. A worker's crash costs its own connections, never the port.
//
// Header-only, like chapter 05's poller.hpp, so that later chapters (07 on) include this chapter's
// master instead of copying it: a chapter's binary links only its own .cpp files.
#pragma once

#include "common/log.hpp"
#include "common/narrate.hpp"
#include "common/status.hpp"
#include "common/sys.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <functional>
#include <string>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace one {

// What a worker runs: serve clients of `listener` until told to stop, then return.
using WorkerMain = std::function<void(int slot, Fd listener)>;

class Master {
public:
    // `listeners`: one per worker slot (SO_REUSEPORT), or a single one that every worker shares.
    Master(std::vector<Fd> listeners, int workers, int grace_seconds, WorkerMain worker_main)
        : listeners_(std::move(listeners)), worker_count_(workers), grace_seconds_(grace_seconds),
          worker_main_(std::move(worker_main)) {}

    // Starts the workers and supervises them until stopped. Returns the exit code.
    int run();
    // Runs in the master on SIGHUP, before the new workers are forked: what they should start
    // from that the old ones did not (chapter 11: certificates read again, ticket keys rotated).
    void before_reload(std::function<void()> hook) { before_reload_ = std::move(hook); }

private:
    using Clock = std::chrono::steady_clock;
    struct Worker {
        pid_t pid;
        int slot;
        bool retiring;          // replaced by a reload, or told to stop: not restarted when it exits
        Clock::time_point born;
    };
    struct Restart {            // a slot whose worker died young, to be started again later
        int slot;
        Clock::time_point at;
    };

    pid_t spawn(int slot);
    void reap();
    void restart(int slot, Clock::time_point born);
    void restart_due();
    void stop();
    void signal_workers(int sig, bool current_only);
    void reload();
    std::function<void()> before_reload_;

    std::vector<Fd> listeners_;
    int worker_count_;
    int grace_seconds_;
    WorkerMain worker_main_;
    std::vector<Worker> workers_;
    std::vector<Restart> restarts_;
    Clock::duration backoff_ = std::chrono::seconds(1);  // doubles while workers keep dying young
    bool stopping_ = false;
};

// In a worker, just forked: keeps only the listener of its slot (or the one they all share) and
// closes the others, which belong to other workers. The master's own copies stay open in the master.
inline Fd keep_own_listener(std::vector<Fd>& listeners, int slot) {
    Fd own(::dup(listeners[listeners.size() == 1 ? 0 : static_cast<size_t>(slot)].get()));
    listeners.clear();
    return own;
}

inline std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
    return "stopped";
}

inline pid_t Master::spawn(int slot) {
    pid_t master = getpid();
    int counters = status::claim_slot(slot);  // for /status: a slot of the shared counters of its own
    pid_t pid = fork();
    if (pid < 0) {
        log_line(std::string("fork: ") + std::strerror(errno));
        status::assign_slot(counters, 0);
        return -1;
    }
    if (pid == 0) {
        sigset_t none;  // the master blocks the signals it waits for; a worker must feel them
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        prctl(PR_SET_PDEATHSIG, SIGTERM);  // a master killed outright takes its workers with it
        if (getppid() != master) _exit(0);  // ...even one killed before that line
        status::count_as_worker(counters);  // into its slot, which the master and the others can read
        if (narrate::on) narrate::set_speaker("worker " + std::to_string(slot));
        Fd own = keep_own_listener(listeners_, slot);
        try {
            worker_main_(slot, std::move(own));
        } catch (const std::exception& e) {  // never unwind into the master's code: this is another process
            log_line("worker " + std::to_string(slot) + ": " + e.what());
            _exit(1);
        }
        _exit(0);
    }
    status::assign_slot(counters, pid);
    workers_.push_back({pid, slot, false, Clock::now()});
    return pid;
}

// A worker that dies at once (it cannot open what it needs, say) would die again at once if
// restarted at once, in a loop as fast as fork(). So a worker that lived under a second is restarted
// after a pause that doubles each time, up to half a minute; one that lived longer, at once.
inline void Master::restart(int slot, Clock::time_point born) {
    Clock::time_point now = Clock::now();
    if (now - born >= std::chrono::seconds(1)) {
        backoff_ = std::chrono::seconds(1);
        log_line("restarting worker " + std::to_string(slot));
        spawn(slot);
        return;
    }
    auto pause = std::chrono::duration_cast<std::chrono::milliseconds>(backoff_);
    log_line("worker " + std::to_string(slot) + " died young: restarting it in " + std::to_string(pause.count()) + " ms");
    restarts_.push_back({slot, now + backoff_});
    backoff_ = std::min<Clock::duration>(backoff_ * 2, std::chrono::seconds(30));
}

inline void Master::restart_due() {
    Clock::time_point now = Clock::now();
    for (size_t i = 0; i < restarts_.size();) {
        if (restarts_[i].at > now) {
            ++i;
            continue;
        }
        spawn(restarts_[i].slot);
        restarts_.erase(restarts_.begin() + static_cast<long>(i));
    }
}

inline void Master::reap() {
    int wait_status;
    for (pid_t pid; (pid = waitpid(-1, &wait_status, WNOHANG)) > 0;) {
        auto it = std::find_if(workers_.begin(), workers_.end(), [pid](const Worker& w) { return w.pid == pid; });
        if (it == workers_.end()) continue;
        Worker gone = *it;
        workers_.erase(it);
        log_line("worker " + std::to_string(gone.slot) + " (pid " + std::to_string(pid) + ") " + describe_exit(wait_status));
        status::process_ended(pid, !gone.retiring && !stopping_);
        if (!gone.retiring && !stopping_) restart(gone.slot, gone.born);
    }
}

inline void Master::signal_workers(int sig, bool current_only) {
    for (Worker& w : workers_) {
        if (current_only && w.retiring) continue;
        w.retiring = true;
        kill(w.pid, sig);
    }
}

// New workers first: they take from the same listening sockets, which stay open in the master all
// along, so a client that arrives between the two steps waits in the accept queue, not in vain.
inline void Master::reload() {
    log_line("reload: starting new workers, then retiring the old ones");
    if (before_reload_) before_reload_();
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

// Each worker accepts what its listener already holds, then closes it; the master closes its own
// copies, so the sockets go away and a client that comes now is refused at once rather than
// left in an accept queue nobody will read, to be reset when the master exits.
inline void Master::stop() {
    log_line(std::string("stopping: workers finish what they serve, for up to ") + std::to_string(grace_seconds_) + " s");
    stopping_ = true;
    restarts_.clear();
    signal_workers(SIGTERM, false);
    listeners_.clear();
}

inline int Master::run() {
    sigset_t wanted;
    sigemptyset(&wanted);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&wanted, sig);
    sigprocmask(SIG_BLOCK, &wanted, nullptr);  // delivered only through sigtimedwait() below
    status::share_between(worker_count_);       // before the first fork, so every worker maps it
    for (int slot = 0; slot < worker_count_; ++slot) spawn(slot);

    auto give_up = std::chrono::steady_clock::time_point::max();
    while (!(stopping_ && workers_.empty())) {
        timespec tick{0, 200'000'000};
        int sig = sigtimedwait(&wanted, nullptr, &tick);
        if (sig == SIGCHLD) reap();
        if ((sig == SIGTERM || sig == SIGINT) && !stopping_) {
            stop();
            // The workers give up on their connections at --grace themselves (worker.hpp); one
            // still there a second later is stuck, and is killed.
            give_up = std::chrono::steady_clock::now() + std::chrono::seconds(grace_seconds_ + 1);
        }
        if (sig == SIGHUP && !stopping_) reload();
        if (!stopping_) restart_due();
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
