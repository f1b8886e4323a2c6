// ring: setting up io_uring, the buffer ring, and saying why there is none.
#include "ring.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sys/mman.h>
#include <sys/utsname.h>

namespace one::uring {

std::string RingFeatures::describe() const {
    std::string flags = defer_taskrun ? "SINGLE_ISSUER + DEFER_TASKRUN (completions finished only when the loop asks)"
                        : coop_taskrun ? "COOP_TASKRUN (no DEFER_TASKRUN here: completions finished at the next kernel entry)"
                                       : "no task-run flags (an older kernel: completions may interrupt the loop)";
    return flags + (registered_fd ? ", ring fd registered" : ", ring fd not registered");
}

Ring::Ring(unsigned entries) {
    // Best first; a kernel that does not know a flag answers EINVAL, and we ask for less.
    struct Try {
        unsigned flags;
        bool defer, coop;
    };
    const Try tries[] = {
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, true, false},
        {IORING_SETUP_COOP_TASKRUN, false, true},
        {0, false, false},
    };
    int err = 0;
    for (const Try& t : tries) {
        io_uring_params params{};
        params.flags = t.flags;
        params.cq_entries = entries * 2;
        params.flags |= IORING_SETUP_CQSIZE;  // multishot operations complete many times: room for bursts
        err = io_uring_queue_init_params(entries, &ring_, &params);
        if (err == 0) {
            features_ = {t.defer, t.coop};
            // Registered, the ring's own descriptor is not looked up (and reference-counted) on
            // every io_uring_enter. Linux 5.18; without it, each call pays that small price.
            features_.registered_fd = io_uring_register_ring_fd(&ring_) == 1;
            return;
        }
        if (err != -EINVAL) break;
    }
    throw_errno("io_uring_setup", -err);
}

Ring::~Ring() { io_uring_queue_exit(&ring_); }

io_uring_sqe* Ring::sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    if (!s) {
        io_uring_submit(&ring_);  // full: hand the kernel what is queued (rare: the queue is sized for a turn)
        s = io_uring_get_sqe(&ring_);
        if (!s) throw_errno("io_uring_get_sqe", EBUSY);
    }
    return s;
}

void Ring::reserve(unsigned count) {
    if (io_uring_sq_space_left(&ring_) < count) io_uring_submit(&ring_);
}

void Ring::submit_and_wait(unsigned count, Clock::duration timeout) {
    io_uring_cqe* cqe = nullptr;
    int r;
    if (timeout == Clock::duration::max()) {
        r = io_uring_submit_and_wait(&ring_, count);
    } else {
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
        __kernel_timespec ts{ns / 1000000000, ns % 1000000000};
        r = io_uring_submit_and_wait_timeout(&ring_, &cqe, count, &ts, nullptr);
    }
    // ETIME: the timeout passed; EINTR: a signal (its handler wrote to an eventfd we read). Both
    // just end the wait. EBUSY/EAGAIN: the completion queue is full; we drain it next.
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN) throw_errno("io_uring_enter", -r);
}

BufferRing::BufferRing(Ring& ring, uint16_t group, unsigned count, unsigned size)
    : ring_(ring), group_(group), count_(count), size_(size) {
    // The kernel takes buffers from the ring in order, and one given back joins the end of the
    // queue, so under load every buffer is written to. MAP_POPULATE pays for all their pages now: the ring's memory
    // shows in the worker's size from the start, and does not creep up during its first busy
    // seconds as page faults in the receive path.
    void* buffers = ::mmap(nullptr, size_t{count} * size, PROT_READ | PROT_WRITE,
                           MAP_ANONYMOUS | MAP_PRIVATE | MAP_POPULATE, -1, 0);
    if (buffers == MAP_FAILED) throw_errno("mmap (receive buffers)");
    memory_ = static_cast<char*>(buffers);
    // The ring of addresses must be page-aligned memory: the kernel reads it directly.
    shared_bytes_ = sizeof(io_uring_buf) * count;
    void* mem = ::mmap(nullptr, shared_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
        ::munmap(memory_, size_t{count} * size);
        throw_errno("mmap (buffer ring)");
    }
    shared_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(shared_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(shared_);
    reg.ring_entries = count;
    reg.bgid = group;
    if (int err = io_uring_register_buf_ring(ring_.raw(), &reg, 0); err < 0) {
        ::munmap(shared_, shared_bytes_);
        ::munmap(memory_, size_t{count} * size);
        throw_errno("io_uring_register_buf_ring", -err);
    }
    for (unsigned id = 0; id < count; ++id)
        io_uring_buf_ring_add(shared_, memory_ + size_t{id} * size_, size_, static_cast<unsigned short>(id),
                              io_uring_buf_ring_mask(count), static_cast<int>(id));
    io_uring_buf_ring_advance(shared_, static_cast<int>(count));
}

BufferRing::~BufferRing() {
    io_uring_unregister_buf_ring(ring_.raw(), group_);
    ::munmap(shared_, shared_bytes_);
    ::munmap(memory_, size_t{count_} * size_);
}

void BufferRing::give_back(unsigned id) {
    io_uring_buf_ring_add(shared_, memory_ + size_t{id} * size_, size_, static_cast<unsigned short>(id),
                          io_uring_buf_ring_mask(count_), 0);
    io_uring_buf_ring_advance(shared_, 1);  // a store the kernel sees; no system call
}

namespace {

std::string read_first_line(const char* path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

// "Seccomp: 2" in /proc/self/status: a filter is installed on this process.
bool seccomp_filtered() {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("Seccomp:", 0) == 0) return line.find('2') != std::string::npos;
    return false;
}

bool kernel_at_least(int major, int minor) {
    utsname u{};
    if (::uname(&u) != 0) return true;  // cannot tell: let the set-up decide
    int ma = 0, mi = 0;
    std::sscanf(u.release, "%d.%d", &ma, &mi);
    return ma > major || (ma == major && mi >= minor);
}

}  // namespace

std::string why_unavailable() {
    io_uring probe{};
    int err = io_uring_queue_init(4, &probe, 0);
    if (err == 0) {
        io_uring_queue_exit(&probe);
        // Multishot receive into a buffer ring came in Linux 6.0; without it this loop cannot run.
        if (!kernel_at_least(6, 0)) return "this kernel is older than 6.0, which chapter 10's multishot receive needs";
        return "";
    }
    std::string disabled = read_first_line("/proc/sys/kernel/io_uring_disabled");
    if (err == -ENOSYS) {
        if (seccomp_filtered()) return "io_uring_setup is blocked (ENOSYS) by a seccomp filter, as container runtimes' default profiles do";
        return "this kernel has no io_uring (ENOSYS: built without CONFIG_IO_URING, or older than 5.1)";
    }
    if (err == -EPERM) {
        if (disabled == "2") return "io_uring is disabled for everyone: sysctl kernel.io_uring_disabled=2";
        if (disabled == "1") return "io_uring is disabled for this user: sysctl kernel.io_uring_disabled=1, and we are not in kernel.io_uring_group";
        if (seccomp_filtered()) return "io_uring_setup is refused (EPERM) by a seccomp filter, as container runtimes' default profiles do";
    }
    return std::string("io_uring_setup failed: ") + std::strerror(-err);
}

}  // namespace one::uring
