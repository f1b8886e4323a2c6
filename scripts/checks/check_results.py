"""check_results.py FILE...: is a lab's results JSON complete and plausible? Exit 1 with the reasons if not."""
import json
import os
import sys

problems = []


def expect(ok, what):
    if not ok:
        problems.append(what)


for path in sys.argv[1:]:
    name = os.path.basename(path)
    doc = json.load(open(path))
    for key in ("chapter", "lab", "mode", "machine", "table", "rows", "notes", "plots", "summary"):
        expect(key in doc, f"{name}: no '{key}'")
    expect(doc.get("rows"), f"{name}: no measurements")
    expect(doc.get("machine", {}).get("fd_limit", 0) > 0, f"{name}: the fd limit in force is not reported")
    for row in doc.get("rows", []):
        label = f"{name} '{row.get('label')}' on {row.get('server_name')}"
        lg, sv = row["loadgen"], row["server"]
        lat = lg["latency_us"]
        expect(lg["requests"] > 0 and lg["rps"] > 0, f"{label}: no requests completed")
        expect(lat["p50"] > 0 and lat["p99"] >= lat["p50"] and lat["max"] >= lat["p99"], f"{label}: percentiles out of order {lat}")
        expect(sv["cpu_s"] >= 0 and (sv["cpu_us_per_request"] is None or sv["cpu_us_per_request"] >= 0), f"{label}: CPU not sampled")
        expect(sv["rss_kib"] > 0 and sv["threads"] >= 1, f"{label}: memory or threads not sampled")
        # A row whose requests last longer than the count window (09's slow readers of 16 MiB) may
        # finish none inside it: then the table says so, which is an answer, not a broken counter.
        no_requests_to_count = "no requests in the count window" in (sv.get("syscall_note") or "")
        expect(sv["syscall_method"] == "none" or sv["syscalls_per_request"] is not None or no_requests_to_count,
               f"{label}: syscalls counted with {sv['syscall_method']} but no total")
        # Without pipelining or a ring, each request costs the server at least a read and a write:
        # fewer syscalls than requests would mean the count and the requests came from different
        # windows. With pipelining (several requests per read) or io_uring (one call for a whole
        # batch) fewer is the point, but none at all is still a miscount.
        batched = lg.get("pipeline", 1) > 1 or row["server_name"].startswith("10-")
        least = 0 if batched else 1
        expect(sv["syscalls_per_request"] is None or sv["syscalls_per_request"] >= least and sv["syscalls_per_request"] > 0,
               f"{label}: {sv['syscalls_per_request']} syscalls per request, fewer than {'any' if batched else 'one'}")
    # Lab 10 explains its flat-out rows with what entering the kernel costs 05 (the "crossings" line):
    # the syscall count and the CPU per request it needs must both have been measured.
    if doc.get("chapter") == "10-io-uring":
        expect(any(n.startswith("crossings (") and "05-epoll made" in n for n in doc.get("notes", [])),
               f"{name}: no measured crossings line for 05-epoll")
    summary = doc.get("summary") or {}
    expect(summary.get("rps", 0) > 0, f"{name}: the tour summary has no rate")
    for plot in doc.get("plots", []):
        expect(os.path.exists(os.path.join(os.path.dirname(path), os.path.basename(plot))), f"{name}: plot {plot} missing")

if not sys.argv[1:]:
    problems.append("no results file written")
for p in problems:
    print(f"check_results: {p}")
sys.exit(1 if problems else 0)
