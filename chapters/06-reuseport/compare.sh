#!/usr/bin/env bash
# Lab 06: a master and worker processes, each worker with its own SO_REUSEPORT listening socket.
#
# Part 1, one loop against every core: /hello at 100 busy connections, 06 with one worker and with
# one per core, and nginx with the same numbers of workers.
# Part 2, who accepts: every request on a new connection (loadgen --close), against one socket per
# worker (SO_REUSEPORT), one shared socket (--shared-listener) and one shared socket with
# EPOLLEXCLUSIVE (--exclusive): accepts per worker (the spread) and empty wake-ups (the herd).
# Part 3, a reload under load: SIGHUP halfway through the window; loadgen counts failed requests.
# Part 4, the headline: 100,000 connections held open while a few busy clients keep asking. One
# process may hold only fd-limit descriptors, so the server runs enough workers, and the crowd
# comes from enough loadgen processes and 127.0.0.x source addresses; the target shrinks, with the
# reason printed, where this machine cannot hold it.
source "$(dirname "$0")/../../scripts/lab.sh"
lab_begin 06-reuseport reuseport "$@"

cores=$(nproc)
herd=$((cores < 4 ? 4 : cores))  # on a small machine a few more workers than cores make the herd visible
case $LAB_MODE in
  quick) counts=("$cores") target=2000 ;;
  *) counts=(1 "$cores") target=100000 ;;
esac
echo "   $cores cores: 06 and nginx run 1 and $cores workers; loadgen shares the same cores (one thread)"

echo "-- part 1: one worker against one per core"
for workers in "${counts[@]}"; do
  server_start 06-reuseport --workers "$workers"
  measure "100 busy, $workers workers" --series "06-reuseport" --x "$workers" -- --connections 100
  server_stop
  if has_peer nginx; then
    server_start nginx "$workers"
    SERVER_NAME="nginx ($workers workers)"
    measure "100 busy, $workers workers" --series nginx --x "$workers" -- --connections 100
    server_stop
  fi
done

echo "-- part 2: a new connection per request, $herd workers: who accepts it?"
for how in "reuseport" "shared listener:--shared-listener" "shared, EPOLLEXCLUSIVE:--shared-listener --exclusive"; do
  name=${how%%:*} flags=""
  [[ $how == *:* ]] && flags=${how#*:}
  server_start 06-reuseport --workers "$herd" $flags
  SERVER_NAME="06 $name"
  measure "new connection per request, $name" -- --connections 50 --close
  server_stop
  worker_counts "new connection per request, $name"
done

echo "-- part 3: SIGHUP replaces every worker halfway through the window"
server_start 06-reuseport --workers "$cores"
measure "reload under load" --signal-at "$(python3 -c "print($DURATION / 2)")":HUP -- --connections 50
server_stop
echo "   the master logged: $(grep -c 'reload: starting new workers' "$LAB_STATE/06-reuseport.log") reload(s)"

echo "-- part 4: a crowd of $target idle connections beside 10 busy clients"
eval "$(lab crowd-plan --target "$target")"
[[ -n $CROWD_WHY ]] && echo "   the crowd is $CROWD_HELD, not $target: $CROWD_WHY"
echo "   plan: $CROWD_WORKERS workers (fd limit $(ulimit -n) each), $CROWD_PROCESSES loadgen processes, sources $CROWD_SOURCES"
# The crowd must outlive the default 60 s idle timeout while it opens and is measured.
server_start 06-reuseport --workers "$CROWD_WORKERS" --idle-timeout 600000
measure "10 busy at 2,000 req/s, no crowd" --series crowd -- --connections 10 --rate 2000
measure_beside_crowd "10 busy at 2,000 req/s beside the crowd" "$CROWD_HELD" "$CROWD_PROCESSES" "$CROWD_SOURCES" \
  --series crowd -- --connections 10 --rate 2000
server_stop

lab_report --summary "100 busy, $cores workers" --summary-idle "10 busy at 2,000 req/s beside the crowd" \
  --columns label,server,connections,idle,rps,p50_ms,p99_ms,errors,cpu_us_per_request,syscalls_per_request,accepts_by_worker,empty_wakeups,rss_mib,mem_per_idle_kib \
  --plot "workers|100 busy connections: one worker against one per core|workers|rps,cpu_us_per_request|requests/s,server CPU us per request" \
  --note "accepts and empty wake-ups are counted by each worker over its whole run, warm-up included" \
  --note "the reload row: SIGHUP at the middle of the window; its errors are requests that failed while the workers were replaced" \
  --note "with 2,000 req/s (open loop) the busy clients' latency is measured from when each request was due"
