#!/usr/bin/env bash
# loadgen-vs-wrk.sh: checks that our instrument is not the weaker side of the bench. It starts one
# server, drives it with wrk and with loadgen in turn (same connections, threads and duration), and
# prints each client's requests/s and CPU time per request, and the ratio loadgen / wrk.
#
#   scripts/loadgen-vs-wrk.sh [--connections 50] [--threads 1] [--duration 5] [--runs 1]
#                             [--server 02-threads] [--path /hello]
#
# Each client's CPU is user + system time of its whole process (connects and teardown included,
# and loadgen runs with --warmup 0, so both count the same span), read with bash's `times` in a
# subshell that runs nothing else. Exits 1 when loadgen spent more CPU per request than wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}

connections=50 threads=1 duration=5 runs=1 server=02-threads path=/hello
while [[ $# -gt 0 ]]; do
  case $1 in
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --server) server=$2; shift 2 ;;
    --path) path=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$0: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

wrk=$(command -v wrk || true)
[[ -n $wrk ]] || { echo "$0: wrk is not installed (Debian: apt-get install wrk)" >&2; exit 2; }
for tool in "$BUILD/bin/loadgen" "$BUILD/bin/$server"; do
  [[ -x $tool ]] || { echo "$0: $tool is not built; run make" >&2; exit 2; }
done

state=$(mktemp -d /tmp/loadgen-vs-wrk.XXXXXX)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$state"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)"
"$BUILD/bin/$server" --port 0 >"$state/server.out" 2>"$state/server.log" </dev/null &
server_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$state/server.out" && break
  kill -0 "$server_pid" 2>/dev/null || { echo "$0: $server exited; its log:" >&2; cat "$state/server.log" >&2; exit 1; }
  sleep 0.05
done
address=$(sed -n 's/^listening on //p' "$state/server.out")
[[ -n $address ]] || { echo "$0: $server never said 'listening on'" >&2; exit 1; }

# cpu_seconds CMD...: runs CMD (output to $state/out) and prints the CPU seconds it used.
# The subshell runs nothing but CMD, so `times`' second line (its children) is CMD's user and system time.
cpu_seconds() {
  (
    "$@" >"$state/out" 2>&1 || true  # a failed run shows up as missing numbers below
    times >"$state/times"
  )
  awk 'NR == 2 { total = 0
                 for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); total += t[1] * 60 + t[2] }
                 printf "%.3f\n", total }' "$state/times"
}

echo "server:  $BUILD/bin/$server on $address (pid $server_pid)"
echo "clients: $connections connections, $threads thread(s), ${duration} s, GET $path; wrk $("$wrk" -v 2>&1 | head -n1 | awk '{print $2}')"
printf '%-4s %-8s %10s %10s %8s %12s\n' run client requests req/s cpu_s cpu_us/req

declare -A total_requests=([wrk]=0 [loadgen]=0) total_cpu=([wrk]=0 [loadgen]=0)
report() {  # report RUN CLIENT REQUESTS SECONDS CPU
  total_requests[$2]=$((total_requests[$2] + $3))
  total_cpu[$2]=$(awk -v a="${total_cpu[$2]}" -v b="$5" 'BEGIN { print a + b }')
  awk -v run="$1" -v c="$2" -v n="$3" -v s="$4" -v cpu="$5" \
    'BEGIN { printf "%-4s %-8s %10d %10.0f %8.3f %12.2f\n", run, c, n, n / s, cpu, n ? cpu * 1e6 / n : 0 }'
}

for run in $(seq "$runs"); do
  cpu=$(cpu_seconds "$wrk" -c "$connections" -t "$threads" -d "${duration}s" "http://$address$path")
  requests=$(awk '/ requests in / { print $1 }' "$state/out")
  seconds=$(awk '/ requests in / { sub(/s,$/, "", $4); print $4 }' "$state/out")
  [[ -n $requests ]] || { echo "$0: wrk failed:" >&2; cat "$state/out" >&2; exit 1; }
  report "$run" wrk "$requests" "$seconds" "$cpu"

  cpu=$(cpu_seconds "$BUILD/bin/loadgen" --target "$address" --connections "$connections" --threads "$threads" \
    --duration "$duration" --warmup 0 --path "$path" --json "$state/loadgen.json")
  requests=$(grep -o '"requests":[0-9]*' "$state/loadgen.json" | cut -d: -f2) || { cat "$state/out" >&2; exit 1; }
  seconds=$(grep -o '"duration_s":[0-9.]*' "$state/loadgen.json" | cut -d: -f2)
  report "$run" loadgen "$requests" "$seconds" "${cpu}"
done

awk -v wn="${total_requests[wrk]}" -v wc="${total_cpu[wrk]}" -v ln="${total_requests[loadgen]}" -v lc="${total_cpu[loadgen]}" '
  BEGIN {
    w = wc * 1e6 / wn; l = lc * 1e6 / ln
    printf "CPU per request: wrk %.2f us, loadgen %.2f us; loadgen / wrk = %.2f\n", w, l, l / w
    if (l > w) { print "loadgen used more CPU per request than wrk"; exit 1 }
  }'
