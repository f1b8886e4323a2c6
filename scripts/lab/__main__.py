"""The lab harness behind every chapter's compare.sh (through scripts/lab.sh).

  python3 scripts/lab command NAME [ARGS...]   how to start a chapter's server, nginx or node: port, then argv
  python3 scripts/lab ready NAME PID PORT OUT  wait until it listens and answers; prints the port
  python3 scripts/lab measure ... -- LOADGEN   load one server, sample it, append a row
  python3 scripts/lab report ...               print the table, write results/*.json and the plots
  python3 scripts/lab crowd-plan --target N    what holding N idle connections takes here (shell variables)
  python3 scripts/lab crowd ... -- LOADGEN     hold a crowd over several loadgens, measure busy clients beside it
  python3 scripts/lab workers --log F --label L  attach chapter 06's per-worker accept counters to a row
  python3 scripts/lab stop PID                 stop one server this lab started
  python3 scripts/lab stop-all                 stop every server this lab started, by PID
  python3 scripts/lab tour                     the table across all chapters, results/tour.md
  python3 scripts/lab limits                   the limits this run is under
  python3 scripts/lab rps LABEL SERVER         the requests/s a row of this lab measured
  python3 scripts/lab backends --ports P,P ... the connections to chapter 09's backends while a load runs
  python3 scripts/lab first-connection PORT    seconds until something connects to PORT
  python3 scripts/lab add-fields LABEL SERVER K=V...  numbers measured outside loadgen, added to a row
  python3 scripts/lab pinning                  where loadgen and the server run (lab_pin)
  python3 scripts/lab evict FILE...            drop files from the page cache, and say whether that worked
  python3 scripts/lab slow-disk PATH BPS       slow reads from PATH's disk for the servers that join (root, cgroups)
  python3 scripts/lab slow-disk-join PID       a server (and its children) joins the slow disk's group
  python3 scripts/lab cpu-cap PERCENT          a group whose servers run at most PERCENT of a core (root, cgroups)
  python3 scripts/lab cpu-cap-join PID         a server (and its children) joins it
"""
import argparse
import fnmatch
import json
import os
import re
import shlex
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run as a folder: import as a package
from lab import cpucap, crowd, limits, measure, pagecache, procs, report, servers, slowdisk, tour, upstream  # noqa: E402
from lab.servers import LabError  # noqa: E402


def rows_path():
    return os.path.join(servers.state_dir(), "rows.jsonl")


def cmd_command(a):
    limits.raise_fd_limit()
    port, argv = servers.command(a.name, a.args)
    print(port)
    print("\n".join(argv))


def cmd_ready(a):
    print(servers.ready(a.pid, a.port, a.out, a.name))


def cmd_measure(a):
    args = a.loadgen[1:] if a.loadgen[:1] == ["--"] else a.loadgen
    fd_limit = limits.raise_fd_limit()
    signal_at = None
    if a.signal_at:
        seconds, name = a.signal_at.split(":")
        signal_at = (float(seconds), int(getattr(signal, name if name.startswith("SIG") else "SIG" + name)))
    row = measure.measure(a.pid, a.port, args, a.warmup, a.duration, fd_limit,
                          beside=a.beside.split() if a.beside else None, beside_seconds=a.beside_seconds,
                          signal_at=signal_at)
    add_row(row, a, row["loadgen"]["idle_held"] if a.x_held else a.x)


def cmd_crowd_plan(a):
    """Prints shell assignments: CROWD_HELD, CROWD_WORKERS, CROWD_PROCESSES, CROWD_SOURCES, CROWD_WHY."""
    p = crowd.plan(a.target, os.cpu_count() or 1)
    why = "; ".join(p["reasons"])
    print(f"CROWD_HELD={p['held']} CROWD_WORKERS={p['workers']} CROWD_PROCESSES={p['processes']} "
          f"CROWD_SOURCES={p['sources']} CROWD_WHY={shlex.quote(why)}")


def cmd_crowd(a):
    args = a.loadgen[1:] if a.loadgen[:1] == ["--"] else a.loadgen
    fd_limit = limits.raise_fd_limit()
    row = crowd.measure_beside(a.pid, a.port, a.total, a.processes, a.sources, args, a.warmup, a.duration, fd_limit)
    c = row["crowd"]
    rows = [json.loads(line) for line in open(rows_path())] if os.path.exists(rows_path()) else []
    add_row(row, a, c["held_after"])
    print(f"    crowd: asked {c['asked']:,}, the server held {c['held_before']:,} before and {c['held_after']:,} after "
          f"the measurement (opened in {c['opening_s']} s by {c['processes']} loadgen processes from {c['sources']}); "
          f"the crowd's loadgens held {c['held']:,} and saw {c['errors']} errors")
    if c.get("kernel_tcp_kib") is not None:
        print(f"    the kernel's TCP buffers, whole machine, with the crowd held: {c['kernel_tcp_kib'] / 1024:,.1f} MiB "
              "(/proc/net/sockstat: idle sockets hold no buffers)")
    if c.get("kernel_slab_grown_kib") and c["held_before"]:
        print(f"    the kernel's slab memory grew {c['kernel_slab_grown_kib'] / 1024:,.1f} MiB while the crowd opened: "
              f"{c['kernel_slab_grown_kib'] / c['held_before'] / 2:.2f} KiB per socket, two sockets per connection "
              "(whole machine, /proc/meminfo Slab)")
    for why in c["limited_by"]:
        print(f"    crowd limited: {why}")
    base = [r for r in rows if r["server_name"] == a.server and r.get("series") == a.series and report.idle_of(r) == 0]
    if base and c["held_after"]:
        grown = row["server"]["rss_kib"] - base[-1]["server"]["rss_kib"]
        print(f"    server RSS (all processes) {row['server']['rss_kib'] / 1024:,.1f} MiB, "
              f"{grown / 1024:,.1f} MiB more than without the crowd: {grown / c['held_after']:.2f} KiB per connection")


def add_row(row, a, x):
    """Labels a measured row, appends it to this lab's rows and prints its line."""
    row.update({"label": a.label, "server_name": a.server, "series": a.series, "x": x})
    with open(rows_path(), "a") as f:
        f.write(json.dumps(row) + "\n")
    r = report.flatten(row)
    errors = f", {r['errors']} errors" if r["errors"] else ""
    syscalls = f", {r['syscalls_per_request']} syscalls/req" if r["syscalls_per_request"] is not None else ""
    print(f"  {a.label:<28} {a.server:<12} {r['rps']:>9,} req/s  p99 {r['p99_ms']:.2f} ms  "
          f"{'-' if r['cpu_us_per_request'] is None else format(r['cpu_us_per_request'], '.1f')} CPU us/req{syscalls}  {r['threads']} threads  {r['rss_mib']} MiB{errors}")
    if r["limited_by"]:
        print(f"    limited: {r['limited_by']}")


WORKER_START = re.compile(r"\d+ workers, (one shared listening socket|a listening socket each)")
WORKER_DONE = re.compile(r"worker (\d+) \(pid (\d+)\) done: accepted (\d+), empty wake-ups (\d+)")


def cmd_workers(a):
    """Chapter 06's workers log what they accepted when they stop: attach what the server's last
    run logged to the row just measured, and print it."""
    text = open(a.log).read() if os.path.exists(a.log) else ""
    starts = [m.end() for m in WORKER_START.finditer(text)]  # the log holds every run of this server: take the last
    text = text[starts[-1]:] if starts else text
    workers = [{"slot": int(m[1]), "pid": int(m[2]), "accepted": int(m[3]), "empty_wakeups": int(m[4])}
               for m in WORKER_DONE.finditer(text)]
    if not workers:
        raise LabError(f"no worker counters in {a.log}: did the server stop gracefully?")
    rows = [json.loads(line) for line in open(rows_path())]
    for row in reversed(rows):
        if row["label"] == a.label:
            row["workers"] = workers
            break
    else:
        raise LabError(f"no row labelled {a.label!r}")
    with open(rows_path(), "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    accepted = [w["accepted"] for w in sorted(workers, key=lambda w: w["slot"])]
    mean = sum(accepted) / len(accepted)
    spread = (max(accepted) - min(accepted)) / mean * 100 if mean else 0
    print(f"    accepts per worker: {', '.join(f'{n:,}' for n in accepted)} (max-min {spread:.0f}% of the mean); "
          f"empty wake-ups: {', '.join(str(w['empty_wakeups']) for w in sorted(workers, key=lambda w: w['slot']))} "
          "(whole run, warm-up included)")


def cmd_backends(a):
    """Chapter 09: samples the backends' connections while a load runs (see upstream.py), writes
    the counts for add-fields --json, and prints them."""
    ports = {int(p) for p in a.ports.split(",")}
    counts = upstream.sample(ports, a.seconds)
    with open(a.out, "w") as f:
        json.dump(counts, f)
    print(f"    backend connections: {counts['backend_conns_mean']} on average, at most {counts['backend_conns_max']}; "
          f"held by a response the proxy has not taken: {counts['backend_held_mean']} on average, "
          f"at most {counts['backend_held_max']}")


def cmd_add_fields(a):
    """Adds KEY=VALUE fields (numbers) to the last row with this label and server."""
    fields = {k: float(v) for k, v in (f.split("=", 1) for f in a.fields)}
    if a.json:
        fields.update(json.load(open(a.json)))
    upstream.attach(rows_path(), a.label, a.server, fields)


def cmd_first_connection(a):
    seconds = upstream.first_connection(a.port, a.timeout)
    print("none" if seconds is None else seconds)


def cmd_rps(a):
    """The requests/s a row of this lab measured, as a whole number (for a later run's --rate)."""
    rows = [json.loads(line) for line in open(rows_path())] if os.path.exists(rows_path()) else []
    for row in rows:
        if row["label"] == a.label and row["server_name"] == a.server:
            print(int(row["loadgen"]["rps"]))
            return
    raise LabError(f"no row {a.label!r} for {a.server!r}")


def cmd_cpu_cap(a):
    """Prints what was set up, or why not; exits 3 when the machine cannot cap (the lab skips)."""
    if not 1 <= a.percent <= 99:
        raise LabError(f"cpu-cap {a.percent}: a share of one core is 1 to 99 percent")
    capped, sentence = cpucap.setup(a.percent)
    print(sentence)
    if not capped:
        sys.exit(3)


def cmd_report(a):
    rows = [json.loads(line) for line in open(rows_path())] if os.path.exists(rows_path()) else []
    if not rows:
        raise LabError("no measurements to report")
    report.derive_memory_per_idle(rows)
    flat = [report.flatten(r) for r in rows]
    for spec in a.net:
        report.net(flat, spec)
    columns = a.columns.split(",")
    print()
    print(report.table(flat, columns))
    notes = list(a.note) + report.targets(flat, a.target) + report.targets(flat, a.target_least, at_least=True) + report.ratios(flat, a.ratio) + report.ceilings(flat, a.ceiling)
    notes += report.crossings(flat, a.crossings) + report.kernel_floors(flat, a.kernel_floor)
    notes += report.growths(flat, a.growth) + report.floors(flat, a.floor)
    plotted = flat
    for spec in a.little:
        lines, expected = report.little(flat, spec)
        notes += lines
        plotted = plotted + expected
    for r, row in zip(flat, rows):
        if r["limited_by"]:
            notes.append(f"{r['label']} ({r['server']}): {r['limited_by']}")
        if row["server"].get("syscall_note"):
            notes.append(f"{r['label']} ({r['server']}): {row['server']['syscall_note']}")
    methods = sorted({row["server"]["syscall_method"] for row in rows} - {"none"})
    notes.append(f"syscalls counted with: {', '.join(methods) or 'nothing (perf and strace missing)'}; "
                 f"memory is RSS of the server's whole process tree; CPU is user+system from /proc")
    pinned = sorted({row["server"]["pinned"] for row in rows if row["server"].get("pinned")})
    if pinned:
        labels = [r["label"] for r in rows if r["server"].get("pinned")]
        rounds = dict.fromkeys(re.sub(r"\(round \d+\)", "(round *)", label) for label in labels)  # one name per series of rounds
        where = "every row" if len(labels) == len(rows) else "rows " + ", ".join(rounds)
        notes.append(f"pinned ({where}): {'; '.join(pinned)}")
    m = report.machine()
    notes.append(f"machine: {m['cores']} cores, {m.get('cpu', '?')}, {m['memory_gib']} GiB, kernel {m['kernel']}, "
                 f"fd limit {m['fd_limit']}, {m['ephemeral_ports']} ephemeral ports per source address, "
                 f"TCP congestion control {m.get('tcp_congestion_control', 'unknown')}")
    plots = []
    for spec in a.plot:
        name, title, xlabel, ykey, ylabel, *flags = spec.split("|")
        path = os.path.join(report.results_dir(), f"{a.chapter}-{name}.png")
        only = next((f[len("only="):] for f in flags if f.startswith("only=")), "*")  # the series this figure draws
        drawn = [r for r in plotted if fnmatch.fnmatchcase(r["series"], only)]
        made = report.plot(drawn, path, title, xlabel, ykey, ylabel, logx="logx" in flags, logy="logy" in flags)
        if made:
            plots.append(os.path.relpath(made, servers.ROOT))
    summary = build_summary(flat, a)
    path = report.write_results(a.chapter, a.lab, a.mode, rows, flat, notes, plots, summary)
    for n in notes:
        print(f"note: {n}")
    for p in plots:
        print(f"plot: {p}")
    print(f"results: {os.path.relpath(path, servers.ROOT)}")


def build_summary(flat, a):
    """The chapter's line in the tour's table: the row the lab names (run by this chapter's own
    server when several servers ran under that label), plus memory per idle connection."""
    def pick(label):
        rows = [r for r in flat if r["label"] == label]
        own = [r for r in rows if r["server"] == a.chapter]
        return (own or rows or [None])[0]
    main = pick(a.summary) if a.summary else None
    if not main:
        return None
    summary = {k: main[k] for k in ("server", "rps", "p99_ms", "cpu_us_per_request", "threads", "syscalls_per_request")}
    summary["label"] = a.summary
    idle = pick(a.summary_idle) if a.summary_idle else None
    summary["mem_per_idle_kib"] = idle["mem_per_idle_kib"] if idle else None
    summary["idle_for_memory"] = idle["idle"] if idle else None
    return summary


def main():
    p = argparse.ArgumentParser(prog="lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("command")
    c.add_argument("name")
    c.add_argument("args", nargs=argparse.REMAINDER)
    c.set_defaults(run=cmd_command)
    rd = sub.add_parser("ready")
    for arg, kind in (("name", str), ("pid", int), ("port", int), ("out", str)):
        rd.add_argument(arg, type=kind)
    rd.set_defaults(run=cmd_ready)
    m = sub.add_parser("measure")
    m.add_argument("--label", required=True)
    m.add_argument("--server", required=True, help="the server's name, for the table")
    m.add_argument("--pid", type=int, required=True)
    m.add_argument("--port", type=int, required=True)
    m.add_argument("--series", help="the plot line this row belongs to (default: the server)")
    m.add_argument("--x", type=float, help="the plot's x value for this row")
    m.add_argument("--x-held", action="store_true", help="x is the number of idle connections the server really held")
    m.add_argument("--beside", help="loadgen options for a client that starts first and leaves after --beside-seconds")
    m.add_argument("--beside-seconds", type=float, default=0.0)
    m.add_argument("--signal-at", help="SECONDS:SIGNAL, e.g. 2.5:HUP: signal the server that far into the window")
    m.add_argument("--warmup", type=float, default=1.0)
    m.add_argument("--duration", type=float, default=5.0)
    m.add_argument("loadgen", nargs=argparse.REMAINDER, help="-- then loadgen's options")
    m.set_defaults(run=cmd_measure)
    r = sub.add_parser("report")
    r.add_argument("--chapter", required=True)
    r.add_argument("--lab", required=True)
    r.add_argument("--mode", default="full")
    r.add_argument("--columns", default="label,server,connections,idle,rps,p50_ms,p99_ms,errors,cpu_us_per_request,"
                                        "syscalls_per_request,threads,rss_mib")
    r.add_argument("--plot", action="append", default=[],
                   help="name|title|x label|y key|y label[|logx][|logy][|only=SERIES-GLOB]; several y keys and labels, comma-separated, make one figure of panels")
    r.add_argument("--note", action="append", default=[])
    r.add_argument("--target", action="append", default=[],
                   help="key|label|server|other|most: print whether server's key is at most `most` times other's")
    r.add_argument("--target-least", action="append", default=[],
                   help="key|label|server|other|least: print whether server's key is at least `least` times other's")
    r.add_argument("--ratio", action="append", default=[],
                   help="key|server|label|baseline|least: server's key at label as a multiple of it at baseline (and whether it is at least `least`)")
    r.add_argument("--ceiling", action="append", default=[],
                   help="key|label|server|most: print whether server's key in that row is at most `most`")
    r.add_argument("--growth", action="append", default=[],
                   help="key|server|label|baseline|most: server's key at label over its own at baseline, round by round (at most `most`)")
    r.add_argument("--floor", action="append", default=[],
                   help="key|label|server|least: print whether server's key in that row (median over rounds) is at least `least`")
    r.add_argument("--crossings", action="append", default=[],
                   help="label|server|ns: the share of server's CPU per request spent entering and leaving the kernel, "
                        "at ns per system call, and how many more requests the same work would serve without them (the direct saving)")
    r.add_argument("--kernel-floor", action="append", default=[],
                   help="label|server|other|most: server's kernel time per request alone against other's whole CPU per "
                        "request, and how little server's own code must cost for `most` times other's")
    r.add_argument("--little", action="append", default=[],
                   help="series|service_ms|upto|tolerance: Little's law for a thread pool whose x is its threads")
    r.add_argument("--net", action="append", default=[],
                   help="KEY|LABEL|BASELINE|NAME|SERVER=BASE_SERVER,...: NAME = KEY at LABEL minus KEY at BASELINE "
                        "(same round) of each server's base server, e.g. a TLS connection's CPU less a plain one's")
    r.add_argument("--summary", help="label of the row that stands for the chapter in the tour")
    r.add_argument("--summary-idle", help="label of the row whose memory per idle connection the tour shows")
    r.set_defaults(run=cmd_report)
    st = sub.add_parser("stop")
    st.add_argument("pid", type=int)
    st.set_defaults(run=lambda a: servers.stop(a.pid))
    sub.add_parser("stop-all").set_defaults(run=lambda a: (servers.stop_all(), slowdisk.remove(), cpucap.remove()))
    cp = sub.add_parser("crowd-plan")
    cp.add_argument("--target", type=int, required=True, help="connections to hold")
    cp.set_defaults(run=cmd_crowd_plan)
    cr = sub.add_parser("crowd")
    for arg in ("--label", "--server", "--sources"):
        cr.add_argument(arg, required=True)
    for arg in ("--pid", "--port", "--total", "--processes"):
        cr.add_argument(arg, type=int, required=True)
    cr.add_argument("--series")
    cr.add_argument("--warmup", type=float, default=1.0)
    cr.add_argument("--duration", type=float, default=5.0)
    cr.add_argument("loadgen", nargs=argparse.REMAINDER, help="-- then the busy clients' loadgen options")
    cr.set_defaults(run=cmd_crowd)
    w = sub.add_parser("workers")
    w.add_argument("--log", required=True, help="the server's log, after it stopped")
    w.add_argument("--label", required=True, help="the row the counters belong to")
    w.set_defaults(run=cmd_workers)
    t = sub.add_parser("tour")
    t.add_argument("--failed", action="append", default=[], help="a chapter whose lab failed")
    t.set_defaults(run=lambda a: tour.write(a.failed))
    sub.add_parser("limits").set_defaults(run=lambda a: print(json.dumps(limits.describe())))
    bk = sub.add_parser("backends")
    bk.add_argument("--ports", required=True, help="the backends' ports, comma-separated")
    bk.add_argument("--seconds", type=float, required=True)
    bk.add_argument("--out", required=True, help="where the counts go, as JSON, for add-fields --json")
    bk.set_defaults(run=cmd_backends)
    af = sub.add_parser("add-fields")
    af.add_argument("label")
    af.add_argument("server")
    af.add_argument("fields", nargs="*", help="KEY=NUMBER")
    af.add_argument("--json", help="a file of more fields, as a JSON object")
    af.set_defaults(run=cmd_add_fields)
    fc = sub.add_parser("first-connection")
    fc.add_argument("port", type=int)
    fc.add_argument("--timeout", type=float, default=30)
    fc.set_defaults(run=cmd_first_connection)
    rp = sub.add_parser("rps")
    rp.add_argument("label")
    rp.add_argument("server")
    rp.set_defaults(run=cmd_rps)
    sub.add_parser("pinning").set_defaults(run=lambda a: print(limits.describe_pinning()))
    sd = sub.add_parser("slow-disk")
    sd.add_argument("path", help="a file or folder on the disk to slow")
    sd.add_argument("bytes_per_s", type=int)
    sd.set_defaults(run=lambda a: print(slowdisk.setup(a.path, a.bytes_per_s)))
    sj = sub.add_parser("slow-disk-join")
    sj.add_argument("pid", type=int, help="a server: it and every process under it read the slow disk")
    sj.set_defaults(run=lambda a: slowdisk.join(procs.tree(a.pid)))
    cc = sub.add_parser("cpu-cap")
    cc.add_argument("percent", type=int, help="of one core, 1-99")
    cc.set_defaults(run=cmd_cpu_cap)
    cj = sub.add_parser("cpu-cap-join")
    cj.add_argument("pid", type=int, help="a server: it and every process under it run capped")
    cj.set_defaults(run=lambda a: cpucap.join(procs.tree(a.pid)))
    ev = sub.add_parser("evict")
    ev.add_argument("files", nargs="+")
    ev.set_defaults(run=lambda a: print(pagecache.evict(a.files)))
    a = p.parse_args()
    try:
        a.run(a)
    except LabError as e:
        print(f"lab: {e}", file=sys.stderr)
        sys.exit(1)


main()
