"""tour: one table across every chapter, from the summaries the labs wrote to results/."""
import glob
import json
import os

from .report import machine, results_dir
from .servers import ROOT


def chapters():
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "chapters", "[0-9][0-9]-*")))


def fmt(value, spec):
    return "-" if value is None else spec.format(value)


def summarize(failed=()):
    results = {}
    for path in glob.glob(os.path.join(results_dir(), "*.json")):
        doc = json.load(open(path))
        if doc.get("summary") and doc.get("chapter"):
            results[doc["chapter"]] = doc
    head = ["chapter", "req/s", "p99 ms", "CPU us/req", "KiB/idle conn", "threads", "syscalls/req", "measured as"]
    rows, plots, notes = [], [], []
    for ch in chapters():
        doc = results.get(ch)
        if ch in failed:
            rows.append([ch, "lab failed: see above", "", "", "", "", "", ""])
        elif not doc:
            has_lab = os.path.exists(os.path.join(ROOT, "chapters", ch, "compare.sh"))
            rows.append([ch, "no results: run make tour" if has_lab else "no lab yet", "", "", "", "", "", ""])
        else:
            s = doc["summary"]
            idle = f"; memory at {s['idle_for_memory']} idle" if s.get("idle_for_memory") else ""
            rows.append([ch, fmt(s["rps"], "{:,}"), fmt(s["p99_ms"], "{:.2f}"), fmt(s["cpu_us_per_request"], "{:.1f}"),
                         fmt(s["mem_per_idle_kib"], "{:.1f}"), fmt(s["threads"], "{}"),
                         fmt(s["syscalls_per_request"], "{:.2f}"), f"{s['label']} ({doc['mode']} mode){idle}"])
            plots += doc.get("plots", [])
            notes += [f"{ch}: {n}" for n in doc.get("notes", []) if not n.startswith(("machine:", "syscalls counted"))]
    return head, rows, plots, notes


def write(failed=()):
    head, rows, plots, notes = summarize(failed)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    print(line(head))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))
    m = machine()
    where = (f"{m['cores']} cores ({m.get('cpu', '?')}), {m['memory_gib']} GiB, kernel {m['kernel']}, "
             f"fd limit {m['fd_limit']}, TCP congestion control {m.get('tcp_congestion_control', 'unknown')}")
    md = ["# The tour: every chapter measured on this machine", "", f"Machine: {where}.", "",
          "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    md += ["", "Each chapter's row is the run its lab names; `results/<chapter>-<lab>.json` has every run.", ""]
    if notes:
        md += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    if plots:
        md += ["## Plots", ""] + [f"![{os.path.basename(p)}]({os.path.relpath(os.path.join(ROOT, p), results_dir())})"
                                  for p in plots] + [""]
    path = os.path.join(results_dir(), "tour.md")
    with open(path, "w") as f:
        f.write("\n".join(md))
    print(f"\nmachine: {where}")
    print(f"wrote {os.path.relpath(path, ROOT)} and {len(plots)} plots in results/")
