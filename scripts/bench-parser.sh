#!/usr/bin/env bash
# bench-parser.sh: times our parser and http-parser on the same corpus and prints the ratio for each entry.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
out=$(mktemp /tmp/one-loop-bench.XXXXXX.json)
trap 'rm -f "$out"' EXIT
# Nine short repetitions of each, in random order, and the median of each: on a shared machine
# whose speed drifts from one minute to the next, one long run of ours and then one of theirs can
# compare two different machines; interleaved, both see the same drift.
"$BUILD/bin/bench-parser" --benchmark_min_time=0.1 --benchmark_repetitions=9 --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=true --benchmark_out="$out" --benchmark_out_format=json "$@"
python3 - "$out" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
runs = {b["run_name"]: b for b in doc["benchmarks"]
        if "error_occurred" not in b and b.get("aggregate_name", "median") == "median"}
print(f"\nmedians of 9 interleaved repetitions\n{'request':<16} {'one-loop MB/s':>14} {'http-parser MB/s':>17} {'one-loop req/s':>15} {'ratio':>6}")
for name in [n.split("/", 1)[1] for n in runs if n.startswith("one-loop/")]:
    ours, theirs = runs[f"one-loop/{name}"], runs.get(f"http-parser/{name}")
    if not theirs:
        continue
    ratio = ours["bytes_per_second"] / theirs["bytes_per_second"]
    print(f"{name:<16} {ours['bytes_per_second'] / 1e6:>14,.0f} {theirs['bytes_per_second'] / 1e6:>17,.0f} "
          f"{ours['items_per_second']:>15,.0f} {ratio:>5.2f}x")
print(f"\nmachine: {doc['context'].get('num_cpus')} cpus at {doc['context'].get('mhz_per_cpu')} MHz; "
      f"library built as {doc['context'].get('library_build_type')}")
PY
