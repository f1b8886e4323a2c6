"""measure: drive a server with loadgen and watch it while the load runs.

The measured window is loadgen's: it warms up for --warmup seconds, then counts for --duration.
With an idle crowd (--idle), loadgen opens the crowd first and starts its warm-up only once every
idle connection is held. It prints "starting: ..." when its warm-up begins, and the lab starts its
own clock at that line, so opening the crowd is outside the window on both sides; the lab's window
ends a little before loadgen's. The server is sampled over that window: CPU and context switches
from /proc at both ends, memory and threads every quarter second. Every figure is divided by the
requests of that window: loadgen's rate times the window's length. After lab_pin (LAB_PIN=1)
loadgen runs alone on the last CPU and every thread of the server on the others; after `lab_pin
one`, the server on the first CPU and loadgen on the others, a thread for each (limits.pinning).

Syscalls are counted after that window, in a second one, because counting them slows them down:
enabling any syscall tracepoint sends every syscall on the machine through the kernel's slow
entry path (measured here: 05-epoll fell from ~115k to ~65k requests/s), and the CPU and rate of
the main window would be those of a traced server. loadgen keeps the load up (--tail), perf (or
strace -c -f when perf is missing) attaches only now, and the lab opens and closes loadgen's count
window with SIGUSR1 and SIGUSR2 around perf's, so syscalls per request are divided by the
requests of that same window."""
import json
import os
import signal
import shutil
import subprocess
import tempfile
import threading
import time

from . import limits, procs
from .servers import ROOT, LabError, state_dir

# Syscalls worth naming; raw_syscalls:sys_enter counts all of them.
NAMED_SYSCALLS = ["accept4", "read", "recvfrom", "write", "sendto", "writev", "sendfile64", "close",
                  "epoll_wait", "epoll_ctl", "select", "pselect6", "poll", "ppoll", "futex", "clone3", "mmap",
                  "sendmsg", "pread64", "openat", "openat2", "newfstatat", "setsockopt", "connect", "io_uring_enter"]


def loadgen_path():
    path = os.path.join(ROOT, os.environ.get("BUILD", "build"), "bin", "loadgen")
    if not os.access(path, os.X_OK):
        raise LabError(f"{path} is not built: run make")
    return path


_perf_ok = None


def perf_usable():
    global _perf_ok
    if _perf_ok is None:
        _perf_ok = shutil.which("perf") is not None and subprocess.run(
            ["perf", "stat", "-e", "raw_syscalls:sys_enter", "-x,", "true"], capture_output=True).returncode == 0
    return _perf_ok


class Syscalls:
    """Counts the server tree's syscalls over exactly the measured window.

    perf attaches before the window with its counters disabled (-D -1), and is told "enable" and
    "disable" through a control FIFO at the window's two ends, so its start-up time is not part of
    the window. Without perf, strace -c -f counts instead (and slows the server: said so)."""

    def __init__(self, pids, threads, fd_limit):
        self.pids, self.proc, self.method, self.note = pids, None, "none", ""
        self.perf_gone = False  # perf exited during the window: this row has no count
        events = ["raw_syscalls:sys_enter", "context-switches"] + [f"syscalls:sys_enter_{s}" for s in NAMED_SYSCALLS]
        if perf_usable():
            # perf opens one descriptor per thread per event; thousands of threads need a short list.
            if threads * len(events) > fd_limit // 2:
                events = events[:2]
            if threads * len(events) > fd_limit // 2:
                self.note = f"syscalls not counted: perf would need {threads * len(events)} descriptors for {threads} threads"
                return
            self.method, self.events = "perf", events
        elif shutil.which("strace"):
            self.method = "strace"
            self.note = "perf missing: syscalls counted with strace -c -f, which slows the server down a lot"
        else:
            self.note = "syscalls not counted: neither perf nor strace is installed"

    def attach(self):
        """Before the window: start the counter, disabled."""
        state = state_dir()
        self.out = os.path.join(state, f"syscalls-{time.time_ns()}.txt")
        self.err = open(os.path.join(state, "perf.log"), "ab")
        pid_list = ",".join(map(str, self.pids))
        if self.method == "perf":
            self.ctl, self.ack = os.path.join(state, "perf.ctl"), os.path.join(state, "perf.ack")
            for fifo in (self.ctl, self.ack):
                if not os.path.exists(fifo):
                    os.mkfifo(fifo)
            cmd = ["perf", "stat", "-D", "-1", "--control", f"fifo:{self.ctl},{self.ack}", "-x,", "-o", self.out,
                   "-e", ",".join(self.events), "-p", pid_list]
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.err)
            self.ctl_file = open(self.ctl, "w")  # blocks until perf opens its end
            self.ack_file = open(self.ack, "r")

    def _command(self, word):
        if self.perf_gone:
            return
        try:
            self.ctl_file.write(word + "\n")
            self.ctl_file.flush()
            self.ack_file.read(5)  # "ack\n\0": perf has done it
        except BrokenPipeError:  # perf has exited, and perf.log says why: the row goes without a count
            self.perf_gone = True

    def enable(self):
        if self.method == "perf" and self.proc:
            self._command("enable")
        elif self.method == "strace":
            self.proc = subprocess.Popen(["strace", "-c", "-f", "-o", self.out] + sum((["-p", str(p)] for p in self.pids), []),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def disable(self):
        if self.method == "perf" and self.proc:
            self._command("disable")
        elif self.method == "strace" and self.proc:
            self.proc.send_signal(signal.SIGINT)  # strace detaches and writes its table
            self.proc.wait(timeout=30)

    def finish(self):
        """Returns {"total": n, "context_switches": n or None, "named": {name: n}}, or None."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if self.method == "perf":
            for f in (self.ctl_file, self.ack_file):
                try:
                    f.close()
                except BrokenPipeError:  # a word that never reached a perf that had gone
                    pass
        text = open(self.out).read() if os.path.exists(self.out) else ""
        if os.path.exists(self.out):
            os.unlink(self.out)
        counts = parse_perf(text) if self.method == "perf" else parse_strace(text)
        if self.perf_gone:
            self.note = f"syscalls not counted: perf stopped during the window (see {state_dir()}/perf.log)"
            return None
        if counts["total"] is None:
            self.note = f"syscalls not counted: {self.method} reported nothing (see {state_dir()}/perf.log)"
            return None
        return counts


def parse_perf(text):
    counts = {"total": None, "context_switches": None, "named": {}}
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) < 3 or not fields[0].strip().isdigit():
            continue
        value, event = int(fields[0]), fields[2]
        if event == "raw_syscalls:sys_enter":
            counts["total"] = value
        elif event == "context-switches":
            counts["context_switches"] = value
        elif event.startswith("syscalls:sys_enter_") and value:
            counts["named"][event[len("syscalls:sys_enter_"):]] = value
    return counts


def parse_strace(text):
    counts = {"total": None, "context_switches": None, "named": {}}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0].replace(".", "").isdigit():
            counts["named"][fields[-1]] = int(fields[3])
        elif fields and fields[-1] == "total":
            counts["total"] = int(fields[2]) if len(fields) >= 4 else None
    return counts


class Sampler(threading.Thread):
    """Peak and mean of memory, threads and descriptors, four times a second."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root, self.samples, self.stopping = root, [], threading.Event()

    def run(self):
        while not self.stopping.is_set():
            self.samples.append(procs.snapshot(self.root, with_switches=False))
            self.stopping.wait(0.25)

    def summary(self):
        self.stopping.set()
        self.join()
        s = self.samples or [procs.snapshot(self.root, with_switches=False)]
        peak = lambda key: max(x[key] for x in s)
        return {"rss_kib": peak("rss_kib"), "rss_kib_mean": sum(x["rss_kib"] for x in s) // len(s),
                "vm_kib": peak("vm_kib"), "threads": peak("threads"), "fds": peak("fds"), "processes": len(s[-1]["pids"])}


def wait_for_crowd(client, log):
    """Reads loadgen's output up to its "starting:" line (printed once any idle crowd is held),
    then copies the rest to the log in the background. False if loadgen ended first."""
    for line in client.stdout:
        log.write(line)
        log.flush()
        if line.startswith(b"starting:"):
            threading.Thread(target=lambda: [log.write(rest) for rest in client.stdout], daemon=True).start()
            return True
    return False


def measure(pid, port, loadgen_args, warmup, duration, fd_limit, beside=None, beside_seconds=0.0, signal_at=None):
    """Runs loadgen against 127.0.0.1:port and returns {"loadgen": ..., "server": ...}.

    `beside`: options for another loadgen that starts just before the measured one, runs for
    `beside_seconds` and leaves; its own numbers are not kept (chapter 01's first client).
    `signal_at`: (seconds, signal number): sent to the server that far into the measured window
    (chapter 06's reload under load)."""
    json_path = os.path.join(state_dir(), f"loadgen-{time.time_ns()}.json")
    count_s = min(max(0.3, duration / 4), 1.5)  # the syscall count's window, after the measured one
    tail = ["--tail", str(count_s + 30)] if counter_installed() else []  # 30 s: room for perf to attach
    host = os.environ.get("LAB_TARGET_HOST", "127.0.0.1")  # chapter 09's lab loads a backend on 127.0.0.2 directly
    pin = limits.pinning()
    # loadgen on several CPUs (lab_pin one): a thread for each, unless the lab chose its threads
    spread = pin and len(pin[1]) > 1 and not {"-t", "--threads"} & set(loadgen_args)
    threads = ["--threads", str(len(pin[1]))] if spread else []
    cmd = [loadgen_path(), "--target", f"{host}:{port}", "--warmup", str(warmup), "--duration", str(duration),
           "--json", json_path, *tail, *threads, *loadgen_args]
    log = open(os.path.join(state_dir(), "loadgen.log"), "ab")
    on_loadgen_cpu = None
    if pin:
        for tid in procs.thread_ids(pid):  # threads made later inherit it
            try:
                os.sched_setaffinity(tid, pin[0])
            except OSError:
                pass  # gone since the look
        on_loadgen_cpu = lambda: os.sched_setaffinity(0, set(pin[1]))
    other = None
    if beside:
        other = subprocess.Popen([loadgen_path(), "--target", f"127.0.0.1:{port}", "--warmup", "0",
                                  "--duration", str(beside_seconds), *beside], stdout=log, stderr=log,
                                 preexec_fn=on_loadgen_cpu)
        time.sleep(0.1)  # connected first: a one-client-at-a-time server takes it first
    client = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, preexec_fn=on_loadgen_cpu)
    if not wait_for_crowd(client, log):
        client.wait()
        raise LabError(f"loadgen ended before its crowd was held: {' '.join(cmd)}; see {state_dir()}/loadgen.log")
    # Our window sits inside loadgen's: it starts when loadgen's does (or a few ms later, the time
    # its line took to reach us), and ends a little before, so that the end of the run (loadgen
    # closing every connection, a crowd's included) is never counted as the server's work.
    loadgen_window_end = time.time() + warmup + duration
    time.sleep(warmup)
    before = procs.snapshot(pid)
    sampler = Sampler(pid)
    sampler.start()
    started = time.time()
    if signal_at:
        threading.Timer(signal_at[0], os.kill, (pid, signal_at[1])).start()
    time.sleep(max(0.0, loadgen_window_end - min(0.1, duration / 10) - time.time()))
    after = procs.snapshot(pid)
    window = time.time() - started
    server = sampler.summary()
    # Taken now, with the crowd and its threads there: perf attaches to every thread that exists.
    snapshot = procs.snapshot(pid, with_switches=False)
    syscalls = Syscalls(snapshot["pids"], snapshot["threads"], fd_limit)
    counted, syscall_window = count_syscalls(syscalls, client, loadgen_window_end, count_s) if tail else (None, 0)
    if other:
        other.wait(timeout=beside_seconds + 60)
    try:
        client.wait(timeout=warmup + duration + 60)
    except subprocess.TimeoutExpired:
        client.kill()
        raise LabError(f"loadgen did not stop: {' '.join(cmd)}")
    if client.returncode != 0 or not os.path.exists(json_path):
        raise LabError(f"loadgen failed (status {client.returncode}): {' '.join(cmd)}; see {state_dir()}/loadgen.log")
    result = json.load(open(json_path))
    os.unlink(json_path)
    # The requests of our window: loadgen's rate over our (slightly shorter) window.
    requests = max(result["rps"] * window, 1)
    server.update({
        "window_s": round(window, 3),
        "cpu_s": round(after["cpu_s"] - before["cpu_s"], 3),
        # /proc counts CPU in clock ticks (10 ms): below a few ticks a per-request figure is noise.
        "cpu_us_per_request": round((after["cpu_s"] - before["cpu_s"]) * 1e6 / requests, 2)
        if after["cpu_s"] - before["cpu_s"] >= 5 / procs.CLOCK_TICKS else None,
        # The server's own code; the rest is the kernel's, working on the server's behalf.
        "user_us_per_request": round((after["user_s"] - before["user_s"]) * 1e6 / requests, 2)
        if after["cpu_s"] - before["cpu_s"] >= 5 / procs.CLOCK_TICKS else None,
        "voluntary_switches_per_s": round((after["voluntary"] - before["voluntary"]) / window),
        "involuntary_switches_per_s": round((after["involuntary"] - before["involuntary"]) / window),
        "syscall_method": syscalls.method, "syscall_note": syscalls.note,
        "syscalls_per_request": None, "syscalls_named_per_request": {},
        "pinned": limits.describe_pinning() if pin else None,
        "loadgen_cpus": len(pin[1]) if pin else 1,
    })
    # The syscall count's requests: those loadgen finished inside the window the lab signalled.
    count = result.get("count_window") or {}
    if counted and counted["total"] is not None and count.get("requests"):
        per = lambda n: n / count["requests"]
        # Three significant digits, not two decimals: a ring's batch can bring it under 0.005, and
        # a rounded 0.00 would read as "no system calls at all", which check_results calls a miscount.
        server["syscalls_per_request"] = float(f"{per(counted['total']):.3g}")
        server["syscalls_named_per_request"] = {k: round(per(v), 3) for k, v in sorted(counted["named"].items())}
        server["syscall_window_s"] = round(syscall_window, 3)
    elif tail and not server["syscall_note"]:
        server["syscall_note"] = "syscalls not counted: loadgen reported no requests in the count window"
    # Over TLS (chapter 11): how many handshakes the window held per request, and how many resumed,
    # so a row that meant to measure resumptions shows that it did.
    tls = (result.get("tls") or {}).get("window")
    if tls:
        server["handshakes_per_request"] = tls["per_request"]
        shaken = tls["full"] + tls["resumed"]
        server["resumed_share"] = round(tls["resumed"] / shaken, 3) if shaken else None
    if counted and counted.get("context_switches") is not None and syscall_window > 0:
        server["context_switches_per_s"] = round(counted["context_switches"] / syscall_window)
    return {"loadgen": result, "server": server}


def counter_installed():
    return perf_usable() or shutil.which("strace") is not None


def count_syscalls(syscalls, client, loadgen_window_end, seconds):
    """After loadgen's measured window, with the load still up: attach the counter, count for
    `seconds` between loadgen's SIGUSR1 and SIGUSR2, and return (counts or None, window length).
    The counter is enabled just before SIGUSR1 and disabled just before SIGUSR2: both windows
    start and end a signal's delivery apart, in the same order, so their lengths match. (perf
    turns its per-thread counters off one at a time; with a hundred threads that takes long enough
    to lose a few percent of the count: 02 at 100 connections showed 1.92 calls per request.)"""
    time.sleep(max(0.0, loadgen_window_end + 0.05 - time.time()))
    window = 0.0
    try:
        if syscalls.method == "none":
            return None, 0.0
        syscalls.attach()
        syscalls.enable()
        if syscalls.method == "strace":
            time.sleep(0.3)  # strace attaches to each thread in turn, after it has started
        started = time.time()
        client.send_signal(signal.SIGUSR1)
        time.sleep(seconds)
        syscalls.disable()
        window = time.time() - started
    finally:
        if client.poll() is None:
            client.send_signal(signal.SIGUSR2)  # closes loadgen's count window and ends its run
    return syscalls.finish(), window
