"""crowd: a crowd of idle connections larger than one process may hold (chapter 06's headline run).

Every process here may open at most fd_limit descriptors, the server's workers and loadgen alike,
and one source address offers one ephemeral port per connection to a given server port. So the
crowd is planned around those limits: enough server workers and loadgen processes that none goes
past its fd limit, enough 127.0.0.x source addresses that none runs out of ports, and a target
scaled down, with the reason printed, where the machine's memory or file table cannot hold it.

  plan            how many workers, loadgen processes and source addresses a target needs
  measure_beside  open the crowd, wait until the server holds it, measure busy clients beside it,
                  end the crowd's loadgens (by PID) and sum what they reported
"""
import json
import math
import os
import signal
import subprocess
import sys
import time

from . import limits, measure
from .measure import loadgen_path
from .servers import LabError, state_dir

PER_PROCESS_SPARE = 128      # descriptors a process keeps for itself: listener, epoll, logs, busy clients
PORTS_USED_AT_MOST = 0.25    # of a source address's ephemeral ports: connect() searches longer for a free
                             # one as they fill (measured here: opening slowed ~10x past 70% full)
BYTES_PER_CONNECTION = 16384  # a generous guess for both ends' sockets and state, to check memory first
FIRST_SOURCE = 2             # the crowd comes from 127.0.0.2 on; 127.0.0.1 is the busy clients'


def meminfo_kib(key):
    for line in open("/proc/meminfo"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def plan(target, cores):
    """What holding `target` connections takes here, and what limits it: a dict."""
    fd_limit = limits.raise_fd_limit()
    per_process = fd_limit - PER_PROCESS_SPARE
    if per_process < 100:
        raise LabError(f"the fd limit ({fd_limit}) is too low to hold a crowd")
    reasons = []
    file_max = int(open("/proc/sys/fs/file-max").read())
    files_used = int(open("/proc/sys/fs/file-nr").read().split()[0])
    by_files = (file_max - files_used) // 2 - 10000  # each connection is a descriptor at both ends
    by_memory = meminfo_kib("MemAvailable") * 1024 // 2 // BYTES_PER_CONNECTION  # at most half the free memory
    held = target
    if by_files < held:
        held = by_files
        reasons.append(f"the system's file table (fs.file-max {file_max:,}, {files_used:,} in use) caps it at {by_files:,}")
    if by_memory < held:
        held = by_memory
        reasons.append(f"available memory caps it at {by_memory:,} (assuming {BYTES_PER_CONNECTION // 1024} KiB a connection)")
    low, high = limits.port_range()
    ports = high - low + 1
    sources = max(1, math.ceil(held / (ports * PORTS_USED_AT_MOST)))
    if FIRST_SOURCE + sources - 1 > 254:
        raise LabError(f"{held:,} connections need {sources} source addresses: more than 127.0.0.0/24 has")
    # The kernel spreads connections over the workers' sockets by a hash: give each some slack.
    workers = max(cores, math.ceil(held * 1.1 / per_process))
    processes = math.ceil(held / per_process)
    return {"target": target, "held": held, "reasons": reasons, "fd_limit": fd_limit, "workers": workers,
            "processes": processes, "sources": f"127.0.0.{FIRST_SOURCE}-127.0.0.{FIRST_SOURCE + sources - 1}",
            "source_count": sources, "ports_per_source": ports}


def kernel_slab_kib():
    """The kernel's slab memory (/proc/meminfo Slab): where sockets, their files and epoll entries live."""
    return meminfo_kib("Slab")


def kernel_tcp_kib():
    """The kernel's memory for TCP buffers, all sockets of the machine (/proc/net/sockstat, in pages)."""
    for line in open("/proc/net/sockstat"):
        if line.startswith("TCP:"):
            fields = line.split()
            return int(fields[fields.index("mem") + 1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    return None


def established(port):
    """Established connections whose local port is the server's: the crowd as the server sees it."""
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True).stdout
    return out.count("\n")


def open_crowd(port, total, processes, sources, hold_seconds):
    """Starts `processes` loadgens holding `total` idle connections between them; returns them."""
    procs = []
    for i in range(processes):
        share = total // processes + (1 if i < total % processes else 0)
        out = os.path.join(state_dir(), f"crowd-{i}.json")
        cmd = [loadgen_path(), "--target", f"127.0.0.1:{port}", "--connections", "0", "--idle", str(share),
               "--warmup", "0", "--duration", str(hold_seconds), "--timeout", "30000",
               "--source-ips", sources, "--json", out]
        log = open(os.path.join(state_dir(), f"crowd-{i}.log"), "w")
        procs.append((subprocess.Popen(cmd, stdout=log, stderr=log), out))
    with open(os.path.join(state_dir(), "pids"), "a") as f:  # stop-all ends them by PID if the lab is cut short
        f.writelines(f"{p.pid}\n" for p, _ in procs)
    return procs


def wait_until_held(port, total, patience):
    """Waits until the server holds `total` connections, or the count stops growing for 10 s."""
    began = time.time()
    held, best, best_at = 0, -1, began
    while time.time() - began < patience:
        time.sleep(1)
        held = established(port)
        print(f"    crowd: {held:,} of {total:,} held after {time.time() - began:.0f} s", file=sys.stderr, flush=True)
        if held >= total:
            break
        if held > best:
            best, best_at = held, time.time()
        elif time.time() - best_at > 10:  # no progress: that is what this machine holds
            break
    return held, round(time.time() - began, 1)


def close_crowd(procs):
    """Ends the crowd's loadgens, by PID (SIGTERM: each reports and exits), and sums their reports."""
    for p, _ in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    summary = {"held": 0, "requested": 0, "errors": 0, "limited_by": []}
    for p, out in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        if not os.path.exists(out):
            summary["limited_by"].append(f"a crowd loadgen (pid {p.pid}) exited with {p.returncode} and no report")
            continue
        doc = json.load(open(out))
        summary["held"] += doc["idle_held"]
        summary["requested"] += doc["idle_requested"]
        summary["errors"] += sum(doc["errors"].values())
        if doc.get("limited_by") and doc["limited_by"] not in summary["limited_by"]:
            summary["limited_by"].append(doc["limited_by"])
    return summary


def measure_beside(pid, port, total, processes, sources, loadgen_args, warmup, duration, fd_limit, patience=180):
    """Opens the crowd, measures the busy clients (loadgen_args) beside it, closes the crowd.
    Returns the measured row, with the crowd's figures under "crowd"."""
    # Held for as long as the opening may take, the measurement, and slack; closed by us before then.
    slab_before = kernel_slab_kib()
    procs = open_crowd(port, total, processes, sources, hold_seconds=patience + warmup + duration + 60)
    try:
        held, took = wait_until_held(port, total, patience)
        tcp_kib = kernel_tcp_kib()
        slab_grown = kernel_slab_kib() - slab_before
        row = measure.measure(pid, port, loadgen_args, warmup, duration, fd_limit)
        held_after = established(port)
    finally:
        report = close_crowd(procs)
    row["crowd"] = {"asked": total, "held_before": held, "held_after": held_after, "opening_s": took,
                    "processes": processes, "sources": sources, "kernel_tcp_kib": tcp_kib,
                    "kernel_slab_grown_kib": slab_grown, **report}
    return row
