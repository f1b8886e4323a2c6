"""procs: what /proc says about a server's whole process tree: memory, threads, CPU, context switches."""
import os

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:  # the process or thread is gone: it counts as nothing
        return ""


def tree(root):
    """The root PID and all its descendants (nginx's workers, chapter 06's workers)."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = read(f"/proc/{name}/stat")
            if stat:
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def status_fields(pid):
    fields = {}
    for line in read(f"/proc/{pid}/status").splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            fields[key] = int(parts[0])
    return fields


def cpu_seconds(pid):
    """(user, system) CPU of the process, all its threads, living or exited, and of the children it
    has reaped: a worker that exits mid-run (chapter 06's reload) keeps counting through its master."""
    stat = read(f"/proc/{pid}/stat")
    if not stat:
        return 0.0, 0.0
    utime, stime, cutime, cstime = (int(x) for x in stat.rsplit(")", 1)[1].split()[11:15])
    return (utime + cutime) / CLOCK_TICKS, (stime + cstime) / CLOCK_TICKS


def context_switches(pid):
    """Voluntary and involuntary switches summed over the living threads (status shows one thread each)."""
    voluntary = involuntary = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0, 0
    for tid in tids:
        f = status_fields(f"{pid}/task/{tid}")
        voluntary += f.get("voluntary_ctxt_switches", 0)
        involuntary += f.get("nonvoluntary_ctxt_switches", 0)
    return voluntary, involuntary


def open_fds(pid):
    """Descriptors open in the process. Since Linux 6.2, stat() on /proc/PID/fd says how many in its
    size; listing the folder instead took 22 ms of CPU for 20,000 descriptors, and the sampler does
    it four times a second, on the two cores the server and loadgen are measured on."""
    try:
        count = os.stat(f"/proc/{pid}/fd").st_size
        return count if count > 0 else len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def thread_ids(root):
    """Every thread of every process in the tree."""
    tids = []
    for pid in tree(root):
        try:
            tids.extend(int(t) for t in os.listdir(f"/proc/{pid}/task"))
        except OSError:
            pass  # gone since the look
    return tids


def snapshot(root, with_switches=True):
    """One look at the tree: sums over every process in it."""
    pids = tree(root)
    snap = {"pids": pids, "rss_kib": 0, "vm_kib": 0, "threads": 0, "cpu_s": 0.0, "user_s": 0.0, "fds": 0,
            "voluntary": 0, "involuntary": 0}
    for pid in pids:
        f = status_fields(pid)
        snap["rss_kib"] += f.get("VmRSS", 0)
        snap["vm_kib"] += f.get("VmSize", 0)
        snap["threads"] += f.get("Threads", 0)
        user, system = cpu_seconds(pid)
        snap["cpu_s"] += user + system
        snap["user_s"] += user
        snap["fds"] += open_fds(pid)
        if with_switches:
            v, i = context_switches(pid)
            snap["voluntary"] += v
            snap["involuntary"] += i
    return snap


def pss_kib(root):
    """Proportional set size of the tree: shared pages split between the processes that share them,
    so N workers are not charged N times for one copy of the code."""
    total = 0
    for pid in tree(root):
        for line in read(f"/proc/{pid}/smaps_rollup").splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total
