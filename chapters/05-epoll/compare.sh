#!/usr/bin/env bash
# Lab 05: epoll, and the course's signature experiment.
#
# Part 1, the idle crowd: 50 busy connections ask for /hello back to back while a crowd of idle
# connections sits beside them: 0, 1,000, 5,000, 10,000 and as many as the fd limit allows.
# Chapters 02 (threads), 03 (select), 04 (poll) and 05 (epoll) in turn. select() stops at its wall
# (its line ends near 1,000 held); poll() pays for the whole crowd on every wait; epoll should not
# notice it. One figure: requests/s, p99, server CPU per request and syscalls per request.
# Part 2, peers: /hello at 100 connections for 05 (level- and edge-triggered), nginx with one
# worker, and Node.js when installed, in rounds (three in a full run), loadgen and server each on
# a CPU of its own: flat out, then at one fixed rate for all, where CPU per request is compared.
# Part 3, memory per idle connection at 10,000 and at the fd limit, for 05 and nginx.
source "$(dirname "$0")/../../scripts/lab.sh"
lab_begin 05-epoll epoll "$@"

fd_limit=$(ulimit -n)
most=$((fd_limit - 200))  # the server and loadgen each need the crowd, the busy clients and a few more
case $LAB_MODE in
  quick) servers=(03-select 05-epoll) crowds=(0 300) memory=(300) busy=10 rounds=1 ;;
  tour) servers=(02-threads 03-select 04-poll 05-epoll) crowds=(0 1000 5000 $most) memory=(10000 $most) busy=50 rounds=2 ;;
  full) servers=(02-threads 03-select 04-poll 05-epoll) crowds=(0 1000 5000 10000 $most) memory=(10000 $most) busy=50 rounds=3 ;;
esac
sources=--source-ips=127.0.0.1-127.0.0.8  # past the ~28k ephemeral ports of one source address
echo "   the largest crowd is $most: the fd limit ($fd_limit) less room for the busy clients"

for server in "${servers[@]}"; do
  server_start "$server"
  for n in "${crowds[@]}"; do
    if [[ $server == 02-threads && $n -gt 10000 ]]; then
      echo "   (02-threads: skipping a crowd of $n: one thread each, more than this lab asks of the machine)"
      continue
    fi
    measure "$busy busy + $n idle" --series "$server" --x-held -- --connections "$busy" --idle "$n" $sources
  done
  # The target compares 05's largest crowd with no crowd. Measured before the crowds and again
  # after them, the baseline is their mean: a machine that slowed down in between (shared VMs
  # do) is not taken for the crowd's cost.
  if [[ $server == 05-epoll ]]; then
    measure "$busy busy + 0 idle, again" --series "$server" -- --connections "$busy"
  fi
  server_stop
done

# In rounds, each peer once per round: on a shared machine the same run can differ by half from
# one minute to the next, and a comparison made within one round, then across rounds, is fairer
# than one run of each. Pinned: loadgen on a CPU of its own, one loop against another.
start_peer() {  # "05-epoll", "05-epoll --edge", "nginx 1" or "node", named as its rows say
  server_start $1
  case $1 in
    *--edge) SERVER_NAME="05-epoll --edge" ;;
    nginx*) SERVER_NAME="nginx (1 worker)" ;;
  esac
}

lab_pin
for round in $(seq "$rounds"); do
  for peer in "05-epoll" "05-epoll --edge" "nginx 1" "node"; do
    has_peer "${peer%% *}" || continue
    start_peer "$peer"
    measure "100 busy (round $round)" --series peers -- --connections 100
    server_stop
  done
done

# CPU per request at one load for all: loadgen sends a fixed rate (half the slower of 05 and nginx
# above), open loop. Flat out, each server runs at its own rate, and the cost of a request depends
# on the rate: the faster one often finds one request waiting, and pays a sleep and a wake-up for
# it, while the slower finds several per wake-up. The CPU target is judged here.
rate=$(half_slowest "100 busy (round 1)" 05-epoll "nginx (1 worker)") || exit 1
echo "   equal load: $rate requests/s for every server"
for round in $(seq "$rounds"); do
  for peer in "05-epoll" "05-epoll --edge" "nginx 1"; do
    has_peer "${peer%% *}" || continue
    start_peer "$peer"
    measure "100 busy at $rate/s (round $round)" --series "equal load" -- --connections 100 --rate "$rate"
    server_stop
  done
done
lab_unpin

for server in 05-epoll "nginx 1"; do
  has_peer "${server%% *}" || continue
  start_peer "$server"
  measure "memory: 0 idle" --series "$SERVER_NAME memory" -- --connections 1 --rate 100
  for n in "${memory[@]}"; do
    measure "memory: $n idle" --series "$SERVER_NAME memory" -- --connections 1 --rate 100 --idle "$n" $sources
  done
  server_stop
done

# The issue's targets, measured here: CPU per request against nginx, the rate kept beside the
# largest crowd (and poll's, for contrast), memory per idle connection at the largest crowd.
checks=(--target "cpu_us_per_request|100 busy at $rate/s (round *)|05-epoll|nginx (1 worker)|0.8"
        --ratio "rps|05-epoll|$busy busy + ${crowds[-1]} idle|$busy busy + 0 idle*|0.9")
# (in quick mode the crowds are too small for memory per connection to be more than page rounding)
[[ $LAB_MODE != quick ]] && checks+=(--ceiling "mem_per_idle_kib|memory: ${memory[-1]} idle|05-epoll|0.5"
                                     --ratio "rps|04-poll|$busy busy + ${crowds[-1]} idle|$busy busy + 0 idle|")
lab_report --summary "100 busy (round 1)" --summary-idle "memory: ${memory[-1]} idle" "${checks[@]}" \
  --columns label,server,connections,idle,rps,p99_ms,errors,cpu_us_per_request,user_us_per_request,syscalls_per_request,threads,rss_mib,mem_per_idle_kib \
  --plot "signature|$busy busy connections beside an idle crowd|idle connections held|rps,p99_ms,cpu_us_per_request,syscalls_per_request|requests/s,p99 latency (ms),server CPU us per request,syscalls per request" \
  --note "the crowd's x value is what the server really held: 03-select turns away descriptors >= 1024 with 503"
