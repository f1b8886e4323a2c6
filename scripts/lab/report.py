"""report: turn a lab's measured rows into a printed table, results/<chapter>-<lab>.json and PNG plots."""
import fnmatch
import json
import os
import shutil
import statistics
import subprocess
import time

from . import limits
from .servers import ROOT


def idle_of(row):
    """Idle connections the server held during this row: loadgen's own, plus a crowd held beside it."""
    return row["loadgen"]["idle_held"] + (row["crowd"]["held_after"] if row.get("crowd") else 0)


def flatten(row):
    """One row's headline numbers under short names, for tables, plots and the tour."""
    lg, sv = row["loadgen"], row["server"]
    lat = lg["latency_us"]
    return {
        "label": row["label"], "server": row["server_name"], "series": row.get("series") or row["server_name"],
        "x": row.get("x"), "connections": lg["connections"], "idle": idle_of(row),
        "rps": round(lg["rps"]), "p50_ms": lat["p50"] / 1000, "p99_ms": lat["p99"] / 1000,
        "p999_ms": lat["p999"] / 1000, "max_ms": lat["max"] / 1000,
        "errors": sum(lg["errors"].values()), "cpu_us_per_request": sv["cpu_us_per_request"],
        "user_us_per_request": sv.get("user_us_per_request"),
        "syscalls_per_request": sv["syscalls_per_request"], "threads": sv["threads"],
        # Who limited a flat-out run: a side near 100% of its core is the bottleneck. With loadgen's
        # core full, what one core of the server could do is estimated from its CPU per request.
        "server_busy_pct": round(sv["cpu_s"] * 100 / sv["window_s"]) if sv.get("window_s") else None,
        # loadgen's share of the CPUs it had (several after `lab_pin one` on a larger machine)
        "loadgen_busy_pct": round(lg["client_cpu_s"] * 100 / lg["duration_s"] / sv.get("loadgen_cpus", 1))
        if lg.get("client_cpu_s") is not None and lg.get("duration_s") else None,
        "rps_per_core": round(1e6 / sv["cpu_us_per_request"]) if sv["cpu_us_per_request"] else None,
        # Chapter 10: the ring's one system call, out of the total above.
        "ring_enters_per_request": sv.get("syscalls_named_per_request", {}).get("io_uring_enter"),
        # Chapter 11: handshakes in the window per request (1 with --close), and the share resumed.
        "handshakes_per_request": sv.get("handshakes_per_request"), "resumed_share": sv.get("resumed_share"),
        "rss_mib": round(sv["rss_kib"] / 1024, 1), "vm_mib": round(sv["vm_kib"] / 1024, 1),
        # From /proc over the measured window (perf's count comes from the traced window after it).
        "switches_per_s": sv["voluntary_switches_per_s"] + sv["involuntary_switches_per_s"],
        "mem_per_idle_kib": row.get("mem_per_idle_kib"),
        "limited_by": lg.get("limited_by", ""),
        "accepts_by_worker": "/".join(str(w["accepted"]) for w in sorted(row["workers"], key=lambda w: w["slot"]))
        if row.get("workers") else None,
        "empty_wakeups": sum(w["empty_wakeups"] for w in row["workers"]) if row.get("workers") else None,
        **per_mib(lg, sv),
        **per_path(lg),
        # Chapter 09: counted outside loadgen (scripts/lab/upstream.py), added to the row after it.
        **{k: row.get(k) for k in ("backend_conns_run", "back_after_s", "backend_held_mean", "backend_held_max",
                                   "backend_conns_mean")},
        # A proxy's connect() calls per 10,000 requests, from the syscall count's window: after the
        # warm-up has filled the pools, so it is what reuse costs in the steady state.
        "backend_conns_per_10k": round(sv["syscalls_named_per_request"]["connect"] * 10000, 1)
        if "connect" in sv.get("syscalls_named_per_request", {}) else None,
    }


def per_path(lg):
    """With loadgen --mix, /hello's latency apart from the rest's (chapter 08: what one slow path
    does to a fast one). A plain /hello run counts as all /hello, so the two compare in one column."""
    ms = lambda lat, q: lat[q] / 1000 if lat else None
    mix = lg.get("mix") or []
    hello = next((e for e in mix if e["path"] == "/hello"), None)
    others = [e for e in mix if e["path"] != "/hello"]
    hello_lat = hello["latency_us"] if hello else (lg["latency_us"] if lg.get("path") == "/hello" else None)
    # The other paths' p50: the slowest p50 among them (files, sleeps), each of them alike in a lab's mix.
    other_p50 = max((e["latency_us"]["p50"] for e in others if e["requests"]), default=None)
    return {"hello_p50_ms": ms(hello_lat, "p50"), "hello_p99_ms": ms(hello_lat, "p99"), "hello_p999_ms": ms(hello_lat, "p999"),
            "other_rps": round(sum(e["rps"] for e in others), 1) if others else None,
            "other_p50_ms": other_p50 / 1000 if other_p50 is not None else None}


def per_mib(lg, sv):
    """Bytes as well as requests: MiB/s received by loadgen (heads included) and server CPU per MiB,
    for labs whose responses are large (07's files). CPU per MiB is None where CPU per request is."""
    mib = lg.get("bytes_received", 0) / 2**20
    large = mib and lg.get("bytes_received", 0) >= 64 * 1024 * max(1, lg.get("requests", 0) or 0)  # 64 KiB a response or more
    return {"mib_per_s": round(mib / lg["duration_s"], 1) if mib and lg.get("duration_s") else None,
            "cpu_us_per_mib": round(sv["cpu_s"] * 1e6 / mib, 1) if large and sv["cpu_us_per_request"] is not None else None}


def derive_memory_per_idle(rows):
    """For a row with an idle crowd, the RSS it added per connection over the same server's crowd-free row."""
    for row in rows:
        idle = idle_of(row)
        if idle <= 0:
            continue
        base = [r for r in rows if r["server_name"] == row["server_name"] and r.get("series") == row.get("series")
                and idle_of(r) == 0]
        if base:
            row["mem_per_idle_kib"] = round((row["server"]["rss_kib"] - base[0]["server"]["rss_kib"]) / idle, 2)


COLUMNS = {  # key: (heading, format)
    "label": ("run", "{}"), "server": ("server", "{}"), "connections": ("conns", "{}"), "idle": ("idle", "{}"),
    "rps": ("req/s", "{:,}"), "p50_ms": ("p50 ms", "{:.2f}"), "p99_ms": ("p99 ms", "{:.2f}"),
    "max_ms": ("max ms", "{:.1f}"), "errors": ("errors", "{}"), "cpu_us_per_request": ("CPU us/req", "{:.1f}"),
    "user_us_per_request": ("user us/req", "{:.1f}"),
    "syscalls_per_request": ("syscalls/req", "{:.2f}"), "ring_enters_per_request": ("io_uring_enter/req", "{:.3f}"),
    "server_busy_pct": ("server CPU %", "{}"), "loadgen_busy_pct": ("loadgen CPU %", "{}"),
    "rps_per_core": ("req/s per server core", "{:,}"), "threads": ("threads", "{}"), "rss_mib": ("RSS MiB", "{:.1f}"),
    "vm_mib": ("VM MiB", "{:,.0f}"), "switches_per_s": ("ctx sw/s", "{:,}"), "mem_per_idle_kib": ("KiB/idle conn", "{:.2f}"),
    "accepts_by_worker": ("accepts by worker", "{}"), "empty_wakeups": ("empty wake-ups", "{:,}"),
    "mib_per_s": ("MiB/s", "{:,.1f}"), "cpu_us_per_mib": ("CPU us/MiB", "{:,.1f}"),
    "hello_p50_ms": ("/hello p50 ms", "{:.2f}"), "hello_p99_ms": ("/hello p99 ms", "{:.2f}"),
    "hello_p999_ms": ("/hello p99.9 ms", "{:.2f}"), "other_rps": ("others req/s", "{:,.1f}"),
    "other_p50_ms": ("others p50 ms", "{:.1f}"),
    "backend_conns_per_10k": ("backend connects /10k req", "{:,.1f}"),
    "backend_conns_run": ("backend conns opened (run)", "{:,.0f}"), "back_after_s": ("back after s", "{:.2f}"),
    "backend_held_mean": ("backend conns held (mean)", "{:.1f}"), "backend_held_max": ("held (max)", "{:.0f}"),
    "backend_conns_mean": ("backend conns", "{:.1f}"),
    "handshakes_per_request": ("handshakes/req", "{:.2f}"), "resumed_share": ("resumed", "{:.0%}"),
    "handshake_us": ("handshake CPU us", "{:,.1f}"),
}


def targets(flat_rows, specs, at_least=False):
    """One line per --target "key|label|server|other|most": is `server`'s `key` in the row labelled
    `label` at most `most` times `other`'s (with at_least, --target-least: at least)? Measured,
    never assumed: a missing row says so.
    A label with * names several rounds (e.g. "100 busy (round *)"): each round's ratio is taken
    between the two rows of that round, and the verdict is on their median, so that one round
    the machine was busier in does not decide it."""
    lines = []
    for spec in specs:
        key, label, server, other, most = spec.split("|")
        bound = "at least" if at_least else "at most"
        find = lambda name, lab: next((r for r in flat_rows if r["label"] == lab and r["server"] == name), {})
        labels = sorted({r["label"] for r in flat_rows if fnmatch.fnmatchcase(r["label"], label)}) or [label]
        pairs = [(find(server, lab), find(other, lab)) for lab in labels]
        errors = sum((a.get("errors") or 0) + (b.get("errors") or 0) for a, b in pairs)
        pairs = [(a.get(key), b.get(key)) for a, b in pairs]
        if errors or any(a is None or not b for a, b in pairs):
            why = f"{errors} errors in the runs" if errors else "not measured"
            lines.append(f"target ({label}): {server} {bound} {most}x {other} in {COLUMNS[key][0]}: {why}")
            continue
        each = [a / b for a, b in pairs]
        middle = statistics.median(each)
        verdict = "met" if (middle >= float(most) if at_least else middle <= float(most)) else "NOT met"
        if len(pairs) == 1:
            a, b = pairs[0]
            lines.append(f"target ({label}): {server} {COLUMNS[key][0]} {a:,.1f} = {middle:.2f}x {other}'s {b:,.1f} "
                         f"(target: {bound} {most}x): {verdict}")
        else:
            lines.append(f"target ({label}): {server} {COLUMNS[key][0]} against {other}'s, round by round: "
                         f"{', '.join(f'{x:.2f}x' for x in each)}; median {middle:.2f}x (target: {bound} {most}x): {verdict}")
    return lines


def ratios(flat_rows, specs):
    """One line per --ratio "key|server|label|baseline|least": `server`'s `key` in the row labelled
    `label` as a multiple of the same in the row labelled `baseline`; with `least`, whether it is at
    least that (empty: the ratio is only shown). A baseline with * takes the mean of the rows it
    matches: measured once before and once after `label`, it cancels a machine that drifted
    in between."""
    lines = []
    for spec in specs:
        key, server, label, baseline, least = spec.split("|")
        find = lambda name: next((r for r in flat_rows if r["label"] == name and r["server"] == server), {})
        a = find(label).get(key)
        bases = [r.get(key) for r in flat_rows if r["server"] == server and fnmatch.fnmatchcase(r["label"], baseline)]
        b = statistics.mean(bases) if bases and None not in bases else None
        if a is None or not b:
            lines.append(f"ratio ({server}): {COLUMNS[key][0]} at '{label}' against '{baseline}': not measured")
            continue
        against = f"{b:,.1f}" if len(bases) == 1 else f"{b:,.1f}, the mean of {' and '.join(f'{x:,.1f}' for x in bases)}"
        line = f"{server}: {COLUMNS[key][0]} at '{label}' is {a / b:.2f}x its value at '{baseline.rstrip('*')}' ({a:,.1f} against {against})"
        if least:
            line = f"target: {line} (target: at least {least}x): {'met' if a / b >= float(least) else 'NOT met'}"
        lines.append(line)
    return lines


def ceilings(flat_rows, specs):
    """One line per --ceiling "key|label|server|most": is `server`'s `key` in the row labelled `label`
    at most `most`? A label with "(round *)" takes the median over its rounds."""
    lines = []
    for spec in specs:
        key, label, server, most = spec.split("|")
        values = [r[key] for r in _rounds(flat_rows, server, label).values() if r.get(key) is not None]
        if not values:
            lines.append(f"target ({label}): {server} {COLUMNS[key][0]} at most {most}: not measured")
            continue
        middle = statistics.median(values)
        each = f" (median of {', '.join(f'{v:,.2f}' for v in values)})" if len(values) > 1 else ""
        lines.append(f"target ({label}): {server} {COLUMNS[key][0]} {middle:,.2f}{each} (target: at most {most}): "
                     f"{'met' if middle <= float(most) else 'NOT met'}")
    return lines


def _rounds(flat_rows, server, label):
    """{round label or label: row} for `server`'s rows matching `label` ("... (round *)" matches each round)."""
    return {r["label"]: r for r in flat_rows if r["server"] == server and fnmatch.fnmatchcase(r["label"], label)}


def net(flat_rows, spec):
    """--net "key|label|baseline|name|server=base,...": for each row matching `label` ("(round *)"
    pairs rounds), row[name] = row[key] - the baseline row's key, the baseline being the row labelled
    `baseline` (same round) of the server's base server (itself when not listed). Chapter 11: a TLS
    connection per request, less a plain connection per request, is what the handshake costs."""
    key, label, baseline, name, mapping = spec.split("|")
    bases = dict(pair.split("=", 1) for pair in mapping.split(",") if pair)
    for row in flat_rows:
        if not fnmatch.fnmatchcase(row["label"], label) or row.get(key) is None:
            continue
        base_label = row["label"].replace(label.split("(round")[0], baseline.split("(round")[0], 1)
        base_server = bases.get(row["server"], row["server"])
        base = next((r for r in flat_rows if r["label"] == base_label and r["server"] == base_server), None)
        if base and base.get(key) is not None:
            row[name] = round(row[key] - base[key], 1)


def growths(flat_rows, specs):
    """One line per --growth "key|server|label|baseline|most": `server`'s `key` at `label` as a
    multiple of its own at `baseline` (the same server without the disturbance, say). Labels with
    "(round *)" pair up round by round and the median decides; with `most`, whether it is at most that."""
    lines = []
    for spec in specs:
        key, server, label, baseline, most = spec.split("|")
        rows, bases = _rounds(flat_rows, server, label), _rounds(flat_rows, server, baseline)
        pairs = []
        for name, row in sorted(rows.items()):
            base = bases.get(name.replace(label.split("(round")[0], baseline.split("(round")[0], 1))
            if base and row.get(key) is not None and base.get(key):
                pairs.append((row[key], base[key]))
        if not pairs:
            lines.append(f"{server}: {COLUMNS[key][0]} at '{label}' against '{baseline}': not measured")
            continue
        each = [a / b for a, b in pairs]
        middle = statistics.median(each)
        values = ", ".join(f"{a:,.2f} against {b:,.2f}" for a, b in pairs)
        line = (f"{server}: {COLUMNS[key][0]} at '{label}' is {middle:.2f}x its own at '{baseline}'"
                + (f" (median of {', '.join(f'{x:.2f}x' for x in each)}; {values})" if len(pairs) > 1 else f" ({values})"))
        if most:
            line = f"target: {line} (target: at most {most}x): {'met' if middle <= float(most) else 'NOT met'}"
        lines.append(line)
    return lines


def floors(flat_rows, specs):
    """One line per --floor "key|label|server|least": is `server`'s `key` at `label` at least
    `least`? A label with "(round *)" takes the median over its rounds."""
    lines = []
    for spec in specs:
        key, label, server, least = spec.split("|")
        values = [r[key] for r in _rounds(flat_rows, server, label).values() if r.get(key) is not None]
        if not values:
            lines.append(f"target ({label}): {server} {COLUMNS[key][0]} at least {least}: not measured")
            continue
        middle = statistics.median(values)
        each = f" (median of {', '.join(f'{v:,.2f}' for v in values)})" if len(values) > 1 else ""
        lines.append(f"target ({label}): {server} {COLUMNS[key][0]} {middle:,.2f}{each} (target: at least {least}): "
                     f"{'met' if middle >= float(least) else 'NOT met'}")
    return lines


def crossings(flat_rows, specs):
    """One line per --crossings "label|server|ns": how much of `server`'s CPU per request in the row
    labelled `label` went on entering and leaving the kernel, at `ns` per system call (what
    syscall-cost measured here), and so how many more requests the same work would serve on the
    same core without those crossings: 1 / (1 - that share). That is the direct saving a ring can
    make by entering the kernel less. The indirect one (caches and branch predictors a crossing
    leaves cooler) is not in a tight loop's `ns`, and the work done inside the kernel (TCP, the
    loopback, the wake-ups) is not counted. A label with "(round *)" takes the median over rounds."""
    lines = []
    for spec in specs:
        label, server, ns = spec.split("|")
        rows = [r for r in _rounds(flat_rows, server, label).values()
                if r.get("syscalls_per_request") is not None and r.get("cpu_us_per_request")]
        if not rows:
            lines.append(f"crossings ({label}): {server}: not measured")
            continue
        calls = statistics.median(r["syscalls_per_request"] for r in rows)
        cpu = statistics.median(r["cpu_us_per_request"] for r in rows)
        crossing_us = calls * float(ns) / 1000
        share = crossing_us / cpu
        line = (f"crossings ({label}): {server} made {calls:.2f} system calls per request at {cpu:.2f} us of CPU"
                f"{f' (medians of {len(rows)} rounds)' if len(rows) > 1 else ''}; at {float(ns):.0f} ns each "
                f"(syscall-cost) their entries and exits come to {crossing_us:.2f} us, {share:.1%}")
        if share < 1:
            line += (f": the same work without them would serve {1 / (1 - share):.2f}x the requests/s on the same "
                     f"core (their direct cost; the caches they cool are not counted)")
        else:
            line += ": more than the CPU measured, so the counts and the CPU came from different windows"
        lines.append(line)
    return lines


def kernel_floors(flat_rows, specs):
    """One line per --kernel-floor "label|server|other|most": `server`'s kernel time per request
    alone (its CPU less its user time) against `other`'s whole CPU per request, round by round in
    the rows labelled `label` ("(round *)" pairs rounds). That ratio is where `server` would stand
    if its own code cost nothing, and `most` times `other`'s CPU less that kernel time is the room
    its own code had for a target of `most`. The kernel time depends on the calls a program makes,
    so the floor bounds what changes in user space alone can win, not what fewer calls could."""
    lines = []
    for spec in specs:
        label, server, other, most = spec.split("|")
        theirs = _rounds(flat_rows, other, label)
        pairs = [(r, theirs[name]) for name, r in sorted(_rounds(flat_rows, server, label).items())
                 if r.get("cpu_us_per_request") and r.get("user_us_per_request") is not None
                 and theirs.get(name, {}).get("cpu_us_per_request")]
        if not pairs:
            lines.append(f"kernel floor ({label}): {server} against {other}: not measured")
            continue
        kernel = [r["cpu_us_per_request"] - r["user_us_per_request"] for r, _ in pairs]
        whole = [o["cpu_us_per_request"] for _, o in pairs]
        floors = [k / w for k, w in zip(kernel, whole)]
        rooms = [float(most) * w - k for k, w in zip(kernel, whole)]
        used = [r["user_us_per_request"] for r, _ in pairs]
        each = lambda xs, f: ", ".join(f.format(x) for x in xs)
        lines.append(f"kernel floor ({label}): {server}'s kernel time alone against {other}'s whole CPU per request: "
                     f"{each(floors, '{:.2f}x')}{f' (median {statistics.median(floors):.2f}x)' if len(pairs) > 1 else ''}; "
                     f"for {most}x its own code (user time) had {each(rooms, '{:.1f}')} us per request "
                     f"and used {each(used, '{:.1f}')}")
    return lines


def little(flat_rows, spec):
    """--little "series|service_ms|upto|tolerance": Little's law for a pool. With T threads each
    holding a request for S seconds, and at least T requests always waiting, the pool completes
    T / S requests a second; no more than the requests in the system allow (connections / S).
    Returns (lines, rows for the plot's expected line)."""
    series, service_ms, upto, tolerance = spec.split("|")
    s, upto, tolerance = float(service_ms) / 1000, float(upto), float(tolerance)
    lines, expected, worst = [], [], 0.0
    for r in sorted((r for r in flat_rows if r["series"] == series and r["x"] is not None), key=lambda r: r["x"]):
        busy = min(r["x"], r["connections"])
        bound = busy / s
        off = r["rps"] / bound - 1
        if r["x"] <= upto:
            worst = max(worst, abs(off))
        lines.append(f"Little's law, {int(r['x'])} threads: {r['rps']:,} req/s measured, "
                     f"{bound:,.0f} = {int(busy)} / {service_ms} ms expected ({off:+.1%})"
                     + (f": only {r['connections']} requests are ever in the system" if r["x"] > r["connections"] else ""))
        expected.append({**r, "series": f"expected: min(threads, {r['connections']}) / {service_ms} ms", "rps": bound})
    if expected:
        lines.append(f"target: Little's law within {tolerance:.0%} up to {int(upto)} threads: worst {worst:.1%}: "
                     f"{'met' if worst <= tolerance else 'NOT met'}")
    return lines, expected


def table(flat_rows, columns):
    head = [COLUMNS[c][0] for c in columns]
    body = [[("-" if r.get(c) is None else COLUMNS[c][1].format(r[c])) for c in columns] for r in flat_rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(b) for b in body])


def plot(flat_rows, path, title, xlabel, ykeys, ylabels, logx=False, logy=False):
    """A line per series, y against x; several y keys (comma-separated) make one figure of panels.
    Needs gnuplot; returns the PNG path or None."""
    if not shutil.which("gnuplot"):
        return None
    keys, labels = ykeys.split(","), ylabels.split(",")
    names = []
    for r in flat_rows:
        if r["x"] is not None and r["series"] not in names:
            names.append(r["series"])
    if not names:
        return None
    data = path + ".dat"
    with open(data, "w") as f:  # one block per (panel, series): x y, sorted by x
        for key in keys:
            for name in names:
                points = sorted((float(r["x"]), float(r[key])) for r in flat_rows
                                if r["series"] == name and r["x"] is not None and r.get(key) is not None)
                f.write(f'"{name}"\n' + "".join(f"{x} {y}\n" for x, y in points) + ("" if points else "nan nan\n") + "\n\n")
    panels = len(keys)
    rows, cols = (1, 1) if panels == 1 else ((panels + 1) // 2, 2)
    height = 520 if panels == 1 else 380 * rows
    script = [
        f"set terminal {'pngcairo' if has_pngcairo() else 'png'} size {900 if panels == 1 else 1200},{height} font ',10'",
        f"set output '{path}'", "set grid", "set key top left", f"set xlabel '{xlabel}'",
    ]
    if logx:
        script.append("set logscale x")
    if logy:
        script.append("set logscale y")
    if panels > 1:
        script.append(f"set multiplot layout {rows},{cols} title '{title}'")
    for i, (key, label) in enumerate(zip(keys, labels)):
        script.append(f"set title '{label if panels > 1 else title}'")
        script.append(f"set ylabel '{label}'")
        if not logy:
            script.append("set yrange [0:*]")
        first = i * len(names)
        script.append(f"plot for [j={first}:{first + len(names) - 1}] '{data}' index j using 1:2 "
                      "with linespoints lw 2 pt 7 title columnheader(1)")
    if panels > 1:
        script.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=False, capture_output=True)
    os.unlink(data)
    return path if os.path.exists(path) else None


_pngcairo = None


def has_pngcairo():
    global _pngcairo
    if _pngcairo is None:
        out = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
        _pngcairo = "pngcairo" in (out.stdout + out.stderr)
    return _pngcairo


def machine():
    info = limits.describe()
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            info["cpu"] = line.split(":", 1)[1].strip()
            break
    info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return info


def results_dir():
    """results/, or $LAB_RESULTS (the tests use a scratch folder so they never overwrite a real run)."""
    path = os.environ.get("LAB_RESULTS") or os.path.join(ROOT, "results")
    os.makedirs(path, exist_ok=True)
    return path


def write_results(chapter, lab, mode, rows, flat_rows, notes, plots, summary):
    path = os.path.join(results_dir(), f"{chapter}-{lab}.json")
    doc = {"chapter": chapter, "lab": lab, "mode": mode, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "machine": machine(), "table": flat_rows, "rows": rows, "notes": notes, "plots": plots, "summary": summary}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    return path
