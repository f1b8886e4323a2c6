// master: the process that serves no one. It opens the listening sockets, starts one worker
// process per core, restarts a worker that dies, and turns signals into orders:
//   SIGTERM, SIGINT  stop: workers finish what they are serving, then exit (killed after --grace)
//   SIGHUP           reload: start a new set of workers, then retire the old set, dropping nothing
// This is nginx's shape. A worker's crash costs its own connections, never the port.
#pragma once

#include "common/sys.hpp"

#include <functional>
#include <sys/types.h>
#include <vector>

namespace one {

// What a worker runs: serve clients of `listener` until told to stop, then return.
using WorkerMain = std::function<void(int slot, Fd listener)>;

class Master {
public:
    // `listeners`: one per worker slot (SO_REUSEPORT), or a single one that every worker shares.
    Master(std::vector<Fd> listeners, int workers, int grace_seconds, WorkerMain worker_main);

    // Starts the workers and supervises them until stopped. Returns the exit code.
    int run();

private:
    struct Worker {
        pid_t pid;
        int slot;
        bool retiring;  // replaced by a reload, or told to stop: not restarted when it exits
    };

    pid_t spawn(int slot);
    void reap();
    void signal_workers(int sig, bool current_only);
    void reload();
    int listener_for(int slot) const;

    std::vector<Fd> listeners_;
    int worker_count_;
    int grace_seconds_;
    WorkerMain worker_main_;
    std::vector<Worker> workers_;
    bool stopping_ = false;
};

}  // namespace one
