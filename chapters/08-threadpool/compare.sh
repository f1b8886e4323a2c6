#!/usr/bin/env bash
# Lab 08: what one slow handler does to every other client of a loop, and what a pool buys and costs.
#
# Every server runs ONE worker (one loop against one loop), loadgen on a CPU of its own.
# Part 1, a slow handler: /hello at 1,000 requests/s, open loop, with /sleep?ms=50 among them at
#   five a second (0.5%), against /hello alone at the same rate; 07 against 08, in rounds. On 07 a
#   sleep stops the loop and every /hello behind it waits; on 08 a pool thread sleeps instead.
# Part 2, cold files: the same with two requests a second for 8 MiB files dropped from the page
#   cache before each run, read from a disk slowed to 64 MiB/s where the lab may (root, cgroups);
#   07, 08, Node.js (its fs streams go through libuv's pool) and nginx with aio threads.
# Part 3, Little's law: 64 connections asking for /sleep?ms=20 back to back, pools of 1..N threads.
#   Each thread finishes one request per 20 ms, so T threads should serve T / 0.020 requests/s.
# Part 4, what the pool costs when nothing is slow: /hello CPU per request, 07 against 08, at one
#   rate for both; and what one hand-off costs, with /cpu?n=0 (no work, but a trip to the pool on 08).
# The targets are printed against what was measured, never assumed.
source "$(dirname "$0")/../../scripts/lab.sh"
lab_begin 08-threadpool threadpool "$@"

case $LAB_MODE in
  quick) rounds=1 slow_s=1 files=2 pools=(4) peers=(08-threadpool) ;;
  tour) rounds=2 slow_s=4 files=24 pools=(1 2 4 8 16 32) peers=(07-sendfile 08-threadpool node "nginx 1 aio") ;;
  full) rounds=3 slow_s=10 files=48 pools=(1 2 4 8 16 32 64 128) peers=(07-sendfile 08-threadpool node "nginx 1 aio") ;;
esac
# Open loop, each request timed from when it was due. loadgen gives each connection its turns in
# rotation, and a turn that comes while the connection still waits for an answer waits with it:
# with 200 connections a connection's turn comes every 200 ms, long after its 50 ms sleep, and
# with 400 every 400 ms, long after a cold file. So the only queue a /hello meets is the server's.
rate=1000 conns=200 cold_conns=400
slow_mix='/hello=99.5,/sleep?ms=50=0.5'

# The cold files, in the lab's state folder (on the disk, where the page cache is a copy and can be
# dropped; not a tmpfs). 0.2% of the requests, two a second, ask for one of them, at random.
export LAB_WWW=$LAB_STATE/www
mkdir -p "$LAB_WWW/cold"
chmod o+x "$LAB_STATE"  # nginx's workers run as nobody when the lab runs as root
cold_mix='/hello=99.8'
for i in $(seq 0 $((files - 1))); do
  head -c $((8 << 20)) /dev/urandom >"$LAB_WWW/cold/$i.bin"
  cold_mix+=",/cold/$i.bin=$(python3 -c "print(0.2 / $files)")"
done
cold_files=("$LAB_WWW"/cold/*.bin)
echo "   one worker each; /hello at $rate/s, ${slow_s}s per run; $files cold files of 8 MiB"
# A disk of ordinary speed, for the servers only: some disks (a VM's, served from the host's
# memory) read 8 MiB in a few ms, and then a cold file costs a loop almost nothing.
disk=$(lab slow-disk "$LAB_WWW" $((64 << 20)))
echo "   $disk"

start() {  # a server of this lab, named as its rows say
  case $1 in
    node) server_start node "$LAB_WWW" ;;
    nginx*) server_start nginx 1 aio; SERVER_NAME="nginx aio threads" ;;
    *) server_start "$1" --workers 1 --root "$LAB_WWW"; SERVER_NAME=$1 ;;
  esac
}

lab_pin
for round in $(seq "$rounds"); do
  x=(); [[ $round == 1 ]] && x=(--x 0)
  with=(); [[ $round == 1 ]] && with=(--x 1)
  for server in 07-sendfile 08-threadpool; do
    start "$server"
    DURATION=$slow_s measure "/hello alone (round $round)" --series "${server%%-*} + /sleep" "${x[@]}" -- \
      --connections "$conns" --rate "$rate"
    DURATION=$slow_s measure "/hello + 5/s /sleep?ms=50 (round $round)" --series "${server%%-*} + /sleep" "${with[@]}" -- \
      --connections "$conns" --rate "$rate" --mix "$slow_mix"
    server_stop
  done
  for server in "${peers[@]}"; do
    has_peer "${server%% *}" || continue
    start "$server"
    lab slow-disk-join "$SERVER_PID"
    series="${SERVER_NAME%%-*} + cold files"
    DURATION=$slow_s measure "/hello alone, $cold_conns connections (round $round)" --series "$series" "${x[@]}" -- \
      --connections "$cold_conns" --rate "$rate"
    echo "   $(lab evict "${cold_files[@]}")"
    DURATION=$slow_s measure "/hello + 2/s cold 8 MiB files (round $round)" --series "$series" "${with[@]}" -- \
      --connections "$cold_conns" --rate "$rate" --mix "$cold_mix"
    server_stop
  done
done

# What the pool costs: flat out first, then both at half the slower one's rate, where CPU per
# request compares the same work (flat out, a faster server pays more wake-ups per request).
for round in $(seq "$rounds"); do
  for server in 07-sendfile 08-threadpool; do
    start "$server"
    measure "/hello flat out (round $round)" --series "flat out" -- --connections 100
    # The price of a hand-off: /cpu?n=0 does no work, but on 08 it goes to the pool and back.
    [[ $LAB_MODE == quick && $server == 07-sendfile ]] ||
      measure "/cpu?n=0 flat out (round $round)" --series "flat out" -- --connections 100 --path '/cpu?n=0'
    server_stop
  done
done
even=$(half_slowest "/hello flat out (round 1)" 07-sendfile 08-threadpool) || exit 1
echo "   equal load: $even requests/s for both"
for round in $(seq "$rounds"); do
  for server in 07-sendfile 08-threadpool; do
    start "$server"
    measure "/hello at $even/s (round $round)" --series "equal load" -- --connections 100 --rate "$even"
    server_stop
  done
done
lab_unpin

# Little's law needs no CPU to speak of (the threads sleep), so it runs unpinned.
for threads in "${pools[@]}"; do
  server_start 08-threadpool --workers 1 --threads "$threads"
  measure "pool of $threads, /sleep?ms=20" --series "08 pool, /sleep 20 ms" --x "$threads" -- --connections 64 --path '/sleep?ms=20'
  server_stop
done

lab_report --summary "/hello flat out (round 1)" \
  --columns label,server,rps,hello_p50_ms,hello_p99_ms,hello_p999_ms,other_rps,other_p50_ms,errors,cpu_us_per_request,syscalls_per_request,threads,rss_mib \
  --growth "hello_p99_ms|08-threadpool|/hello + 5/s /sleep?ms=50 (round *)|/hello alone (round *)|2" \
  --growth "hello_p99_ms|07-sendfile|/hello + 5/s /sleep?ms=50 (round *)|/hello alone (round *)|" \
  --floor "hello_p99_ms|/hello + 5/s /sleep?ms=50 (round *)|07-sendfile|50" \
  --growth "hello_p99_ms|08-threadpool|/hello + 2/s cold 8 MiB files (round *)|/hello alone, $cold_conns connections (round *)|2" \
  --growth "hello_p99_ms|07-sendfile|/hello + 2/s cold 8 MiB files (round *)|/hello alone, $cold_conns connections (round *)|" \
  --growth "hello_p99_ms|node|/hello + 2/s cold 8 MiB files (round *)|/hello alone, $cold_conns connections (round *)|" \
  --growth "hello_p99_ms|nginx aio threads|/hello + 2/s cold 8 MiB files (round *)|/hello alone, $cold_conns connections (round *)|" \
  --target "cpu_us_per_request|/hello at $even/s (round *)|08-threadpool|07-sendfile|1.05" \
  --little "08 pool, /sleep 20 ms|20|16|0.10" \
  --plot "blocking|/hello beside slow work, one loop each|0: /hello alone, 1: beside 5/s /sleep?ms=50 or 2/s cold 8 MiB files|hello_p99_ms,hello_p999_ms|/hello p99 (ms),/hello p99.9 (ms)|logy|only=* + *" \
  --plot "little|Pool size and throughput: 64 connections asking for /sleep?ms=20|threads in the pool|rps|requests/s|logx|only=*20 ms" \
  --note "latency is measured open loop, from each request's scheduled time: a request that waited behind a blocked loop shows the wait" \
  --note "cold files: $disk"
