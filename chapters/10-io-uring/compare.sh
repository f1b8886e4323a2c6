#!/usr/bin/env bash
# Lab 10: io_uring against epoll, and against nginx.
#
# Every server runs ONE worker (one loop against one loop) pinned on one CPU, and loadgen on all
# the others, a thread for each (lab_pin one).
# Part 1, /hello at 100 connections, in rounds: 10 (waking on the first completion, and with
#   --batch), 05 (level- and edge-triggered) and nginx, flat out and then at one fixed rate for
#   all, where CPU per request is compared. System calls per request are counted for each,
#   io_uring_enter apart. Flat out on 2 CPUs, loadgen's one core is usually the limit (one loadgen
#   thread costs about what the server does per request); from 3 CPUs on it has more and the
#   server's core is. The lab says which side was, and what one server core could do. Then at
#   several loads, from 6% to 75% of the slower flat-out rate (a plot): what the ring saves
#   depends on how much each wake-up finds ready. Then flat out again, each server held to 30% of
#   its core (a cgroup CPU cap, where the machine allows one), so that the server's share is full
#   first on any machine: requests/s then compare the loops themselves, at the batch sizes a full
#   loop sees. Beside them, what one system call's entry and exit cost here (syscall-cost): an
#   epoll loop's calls per request times that is what a ring saves directly by calling less.
# Part 2, pipelining: the same with 1, 4 and 16 requests in flight per connection. More requests
#   arrive per wake-up, so every loop's calls per request fall; the question is by how much.
# Part 3, 1 MiB files against chapter 07's sendfile, with 50 connections and with one: io_uring has
#   no sendfile, so 10 reads each 64 KiB block into memory and sends it, or with --splice moves it
#   through a pipe (file -> pipe -> socket, two linked splices) without a copy.
# Part 4, memory per idle connection, 10 against 05: a connection waiting for a request holds no
#   receive buffer in either.
# The ring features the kernel gave are printed first; the targets are printed against what was
# measured, never assumed. Without io_uring the lab says why and stops, successfully.
source "$(dirname "$0")/../../scripts/lab.sh"
lab_begin 10-io-uring io_uring "$@"

probe=$("$LAB_ROOT/$BUILD/bin/10-io-uring" --probe)
case $? in
  0) echo "   ${probe/available: /available here: }" ;;
  3) echo "skipped: $probe"; exit 0 ;;
  *) echo "$0: 10-io-uring --probe failed: $probe" >&2; exit 1 ;;
esac

fd_limit=$(ulimit -n)
most=$((fd_limit - 200))
case $LAB_MODE in
  quick) rounds=1 depths=(4) file_rounds=1 memory=(300) cap_rounds=0 loads=() ;;
  tour) rounds=2 depths=(1 4 16) file_rounds=1 memory=(10000) cap_rounds=1 loads=(12 25 50) ;;
  full) rounds=3 depths=(1 4 16) file_rounds=3 memory=(10000 $most) cap_rounds=3 loads=(6 12 25 50 75) ;;
esac
sources=--source-ips=127.0.0.1-127.0.0.8  # past the ~28k ephemeral ports of one source address

export LAB_WWW=$LAB_STATE/www
mkdir -p "$LAB_WWW"
chmod o+x "$LAB_STATE"  # nginx's workers run as nobody when the lab runs as root
head -c $((1 << 20)) /dev/urandom >"$LAB_WWW/1m.bin"
cat "$LAB_WWW/1m.bin" >/dev/null  # in the page cache before any run

# 10 twice: waking on the first completion, as epoll does, and sleeping until 32 are ready or
# 200 us have passed (--batch), which epoll cannot ask for. The second trades latency for CPU.
batched=(--batch 32 --batch-delay-us 200)
start_peer() {  # "10-io-uring", "10-io-uring --batch", "10-io-uring --splice", "05-epoll", "05-epoll --edge", "07-sendfile" or "nginx 1"
  case $1 in
    10-io-uring) server_start 10-io-uring --workers 1 --root "$LAB_WWW" ;;
    "10-io-uring --batch") server_start 10-io-uring --workers 1 --root "$LAB_WWW" "${batched[@]}"
                           SERVER_NAME="10-io-uring --batch 32" ;;
    "10-io-uring --splice") server_start 10-io-uring --workers 1 --root "$LAB_WWW" --splice
                            SERVER_NAME="10-io-uring --splice" ;;
    07-sendfile) server_start 07-sendfile --workers 1 --root "$LAB_WWW" ;;
    *) server_start $1 ;;
  esac
  case $1 in
    *--edge) SERVER_NAME="05-epoll --edge" ;;
    nginx*) SERVER_NAME="nginx (1 worker)" ;;
  esac
}

lab_pin one
peers=("10-io-uring" "10-io-uring --batch" "05-epoll" "05-epoll --edge" "nginx 1")
for round in $(seq "$rounds"); do
  for peer in "${peers[@]}"; do
    has_peer "${peer%% *}" || continue
    start_peer "$peer"
    measure "100 busy (round $round)" --series peers -- --connections 100
    server_stop
  done
done

# One rate for all, half the slower of 05 and nginx flat out (as in 05's lab, so the two compare).
rate=$(half_slowest "100 busy (round 1)" 05-epoll "nginx (1 worker)") || exit 1
echo "   equal load: $rate requests/s for every server"
for round in $(seq "$rounds"); do
  for peer in "${peers[@]}"; do
    has_peer "${peer%% *}" || continue
    start_peer "$peer"
    measure "100 busy at $rate/s (round $round)" --series "equal load" -- --connections 100 --rate "$rate"
    server_stop
  done
done

# The same at several loads, percentages of the slower flat-out rate (6% to 75% in the full run):
# how much a wake-up finds ready decides what the ring can save, so the ratios move with the load.
for percent in "${loads[@]}"; do
  load=$((2 * rate * percent / 100))  # $rate is half the slower flat-out rate
  for peer in "10-io-uring" "10-io-uring --batch" "05-epoll" "nginx 1"; do
    has_peer "${peer%% *}" || continue
    start_peer "$peer"
    measure "100 busy, load $load/s" --series "$SERVER_NAME by load" --x "$load" -- --connections 100 --rate "$load"
    server_stop
  done
done

# What entering and leaving the kernel costs here, measured beside the runs it explains: an epoll
# loop's calls per request times this is what a ring saves directly (the report's "crossings" lines).
crossing=$("$LAB_ROOT/$BUILD/bin/syscall-cost") || exit 1
echo "   entering and leaving the kernel: $crossing"

# Flat out again, each server held to 30% of its core: its share is full long before loadgen's
# core is, so requests/s are the server's, whatever the machine.
capped="100 busy, server held to 30% of a core" capped_runs=no
if ((cap_rounds > 0)); then
  if cap=$(lab cpu-cap 30); then
    echo "   $cap"
    capped_runs=yes
    for round in $(seq "$cap_rounds"); do
      for peer in "${peers[@]}"; do
        has_peer "${peer%% *}" || continue
        start_peer "$peer"
        lab cpu-cap-join "$SERVER_PID"
        measure "$capped (round $round)" --series "server core full" -- --connections 100
        server_stop
      done
    done
  else
    echo "   skipped, flat out with the server's core full: $cap"
  fi
fi

for peer in "10-io-uring" "10-io-uring --batch" "05-epoll" "nginx 1"; do
  has_peer "${peer%% *}" || continue
  start_peer "$peer"
  for depth in "${depths[@]}"; do
    measure "pipelined, $depth in flight" --series "$SERVER_NAME pipelined" --x "$depth" -- --connections 100 --pipeline "$depth"
  done
  server_stop
done

# Files: 50 connections, and one connection alone, where a stream of large writes leaves a ring
# nothing to batch and chapter 07's sendfile copies nothing.
for round in $(seq "$file_rounds"); do
  for peer in "10-io-uring" "10-io-uring --splice" "07-sendfile"; do
    start_peer "$peer"
    measure "1 MiB files (round $round)" --series files -- --connections 50 --path /1m.bin
    [[ $round == 1 ]] && measure "1 MiB files, one connection" --series "one stream" -- --connections 1 --path /1m.bin
    server_stop
  done
done
lab_unpin

for server in 10-io-uring 05-epoll; do
  start_peer "$server"
  measure "memory: 0 idle" --series "$SERVER_NAME memory" -- --connections 1 --rate 100
  for n in "${memory[@]}"; do
    measure "memory: $n idle" --series "$SERVER_NAME memory" -- --connections 1 --rate 100 --idle "$n" $sources
  done
  server_stop
done

equal="100 busy at $rate/s (round *)"
checks=()
for ten in "10-io-uring" "10-io-uring --batch 32"; do
  checks+=(--ceiling "syscalls_per_request|100 busy (round *)|$ten|0.3"
           --target "cpu_us_per_request|$equal|$ten|nginx (1 worker)|0.7"
           --target "cpu_us_per_request|$equal|$ten|05-epoll|0.8"
           --target-least "rps|100 busy (round *)|$ten|05-epoll|1.3"
           --target-least "rps_per_core|100 busy (round *)|$ten|05-epoll|1.3")
  [[ $capped_runs == yes ]] && checks+=(--target-least "rps|$capped (round *)|$ten|05-epoll|1.3")
done
full_core="100 busy (round *)"
[[ $capped_runs == yes ]] && full_core="$capped (round *)"
for epoll in "05-epoll" "nginx (1 worker)"; do
  checks+=(--crossings "$full_core|$epoll|${crossing%% *}")
done
# (in quick mode the crowd is too small for memory per connection to be more than page rounding)
[[ $LAB_MODE != quick ]] && checks+=(--target "mem_per_idle_kib|memory: ${memory[-1]} idle|10-io-uring|05-epoll|1.0")
lab_report --summary "100 busy (round 1)" --summary-idle "memory: ${memory[-1]} idle" "${checks[@]}" \
  --columns label,server,connections,rps,p50_ms,p99_ms,errors,cpu_us_per_request,user_us_per_request,syscalls_per_request,ring_enters_per_request,server_busy_pct,loadgen_busy_pct,rps_per_core,cpu_us_per_mib,rss_mib,mem_per_idle_kib \
  --plot "load|/hello at 100 connections, as the load grows|requests/s offered|cpu_us_per_request,syscalls_per_request|server CPU us per request,syscalls per request|only=* by load" \
  --plot "pipelining|/hello at 100 connections, requests in flight per connection|requests in flight per connection|rps,cpu_us_per_request,syscalls_per_request|requests/s,server CPU us per request,syscalls per request|only=* pipelined" \
  --note "ring: ${probe#io_uring available: }" \
  --note "entering and leaving the kernel: $crossing" \
  --note "a flat-out run is limited by whichever side's core is full (server CPU %, loadgen CPU %); req/s per server core is 1 s over the server's CPU per request, what it could do with a core to itself"
