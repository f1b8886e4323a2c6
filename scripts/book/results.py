"""results: the labs' latest results as Markdown: tables, plots and the machine they came from.

Nothing here invents a number. A result file that is missing becomes a visible box saying how to
make it; a plot the lab did not draw is named as missing, not left out in silence."""
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lab import report, tour  # noqa: E402  (the lab's own column names and tour table)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_COLUMNS = "label,server,rps,p50_ms,p99_ms,errors,cpu_us_per_request,syscalls_per_request,threads,rss_mib"
MODES = {
    "quick": "quick mode: each run lasted well under a second, to prove the lab works; read shapes, not numbers",
    "tour": "tour mode: short runs, as `make tour` makes them",
    "full": "full mode: the lab's longest runs",
}


def box(kind, text):
    return ["", f"::: {{.{kind}}}", text, ":::", ""]


def missing(number):
    chapter = glob.glob(os.path.join(ROOT, "chapters", f"{number}-*"))
    if not chapter:
        where = f"chapter {number} and its lab are not in this checkout yet. When they are, run"
    elif not os.path.exists(os.path.join(chapter[0], "compare.sh")):
        where = f"chapter {number} has no lab (`compare.sh`) in this checkout yet. When it has, run"
    else:
        where = "run"
    return box("no-results", f"**No results yet:** {where} `make tour` (or `make lab CH={number}`), "
                             "then `make book` again.")


def machine_line(doc):
    m = doc.get("machine", {})
    where = (f"{m.get('cores', '?')} cores ({m.get('cpu', 'CPU not named')}), {m.get('memory_gib', '?')} GiB, "
             f"kernel {m.get('kernel', '?')}, fd limit {m.get('fd_limit', '?')}")
    mode = MODES.get(doc.get("mode"), f"{doc.get('mode')} mode")
    name = os.path.basename(doc["_path"])
    return f"Measured by `{name}` on {where}; {mode}; finished {doc.get('finished', '?')}."


def table(rows, columns):
    columns = [c for c in columns if c in report.COLUMNS]
    head = "| " + " | ".join(report.COLUMNS[c][0] for c in columns) + " |"
    rule = "|" + "|".join(":---" if c in ("label", "server") else "---:" for c in columns) + "|"
    body = ["| " + " | ".join("-" if r.get(c) is None else report.COLUMNS[c][1].format(r[c]) for c in columns) + " |"
            for r in rows]
    return ["", head, rule] + body + [""]


def load(number, results_dir):
    docs = []
    for path in sorted(glob.glob(os.path.join(results_dir, f"{number}-*.json"))):
        with open(path) as f:
            doc = json.load(f)
        if str(doc.get("chapter", "")).startswith(number) and doc.get("table"):
            doc["_path"] = path
            docs.append(doc)
    return docs


def results_block(attrs, results_dir):
    """Markdown lines for '::: {.results chapter="NN" ...}'."""
    number = attrs.get("chapter", "")[:2]
    docs = load(number, results_dir)
    if not docs:
        return missing(number)
    out = []
    for doc in docs:
        rows = doc["table"]
        if attrs.get("filter"):
            rows = [r for r in rows if re.search(attrs["filter"], r["label"])]
        out += ["", f"::: {{.measured}}", machine_line(doc), ":::"]
        if doc.get("mode") == "quick":
            out += box("quick-results", f"These are quick-mode results. `make lab CH={number}` (or `make tour`) "
                                        "measures for long enough to trust the numbers.")
        out += table(rows, attrs.get("columns", DEFAULT_COLUMNS).split(","))
        notes = [n for n in doc.get("notes", []) if not n.startswith("machine:")]
        out += [f"- *{n}*" for n in notes] + [""]
        drawn = {os.path.basename(p): p for p in doc.get("plots", [])}
        wanted = attrs["plots"].split(",") if attrs.get("plots") else [n[len(doc["chapter"]) + 1:-4] for n in drawn]
        for name in wanted:
            file = f"{doc['chapter']}-{name}.png"
            path = os.path.join(results_dir, file)
            if file in drawn and os.path.exists(path):
                out += ["", f"![The lab's plot `{file}`, drawn from the run above.]({path})", ""]
            else:
                out += box("no-results", f"**No plot `{file}` in this run** (it needs gnuplot, and more than one "
                                         f"point): run `make lab CH={number}`, then `make book` again.")
    return out


def tour_block(results_dir):
    """Markdown lines for '::: {.tour}': the tour's own table, one row per chapter."""
    os.environ["LAB_RESULTS"] = results_dir
    if not os.path.isdir(results_dir):
        return box("no-results", "**No results yet:** run `make tour`, then `make book` again.")
    head, rows, _, _ = tour.summarize()
    docs = [d for ch in tour.chapters() for d in load(ch[:2], results_dir)]
    out = ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    lines = sorted({machine_line(d).split("; finished")[0].split(" on ", 1)[1] for d in docs})
    out += [""] + [f"*Measured on {w}.*" for w in lines] + [""]
    if not docs:
        out += box("no-results", "**No results yet:** run `make tour`, then `make book` again.")
    return out
