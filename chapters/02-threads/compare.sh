#!/usr/bin/env bash
# Lab 02: a thread per connection, against chapter 01.
#
# Part 1, busy clients: 1, 10 and 100 connections each asking for /hello back to back. Chapter 01
# serves one connection at a time, so beyond the first the others wait (and time out); chapter 02
# serves them all, each in its own thread.
# Part 2, an idle crowd: one busy client beside 0 to 10,000 connections that ask once and then
# stay open, silent. Each silent connection keeps a thread asleep in recv(): watch threads, memory
# (resident and reserved) and context switches grow with the crowd, and the busy client's latency.
source "$(dirname "$0")/../../scripts/lab.sh"
lab_begin 02-threads threads "$@"

case $LAB_MODE in
  quick) busy=(10) crowds=(0 200) ;;
  tour) busy=(1 10 100) crowds=(0 1000 5000) ;;
  full) busy=(1 10 100) crowds=(0 1000 5000 10000) ;;
esac

for server in 01-blocking 02-threads; do
  server_start "$server"
  for n in "${busy[@]}"; do
    measure "$n busy" --x "$n" -- --connections "$n" --timeout 2000
  done
  server_stop
done

server_start 02-threads
for n in "${crowds[@]}"; do
  measure "busy + $n idle" --series "02-threads beside a crowd" --x "$n" -- --connections 1 --idle "$n"
done
server_stop

lab_report --summary "${busy[-1]} busy" --summary-idle "busy + ${crowds[-1]} idle" \
  --columns label,server,connections,idle,rps,p50_ms,p99_ms,errors,cpu_us_per_request,syscalls_per_request,threads,rss_mib,vm_mib,switches_per_s,mem_per_idle_kib \
  --plot "busy|Busy connections: requests per second|busy connections|rps|requests/s|logx" \
  --plot "crowd-threads|An idle crowd: threads|idle connections|threads|threads" \
  --plot "crowd-memory|An idle crowd: resident memory|idle connections|rss_mib|RSS (MiB)" \
  --plot "crowd-latency|An idle crowd: the busy client's p99|idle connections|p99_ms|p99 latency (ms)" \
  --note "with 01-blocking only the first of several busy connections is served; the others wait until they time out (loadgen --timeout 2000) and reconnect"
