#!/usr/bin/env bash
# Lab 03: one thread with select(), against a thread per connection (02).
#
# Part 1, busy clients: 1, 10 and 100 connections asking for /hello back to back. One thread now
# serves them all; compare the rate, the CPU per request and the threads.
# Part 2, an idle crowd beside one busy client, up to and past select()'s wall: a descriptor
# numbered 1024 or more cannot be watched, so beyond about 1,000 connections the crowd is turned
# away with 503 (counted as errors by loadgen), while 02 takes them all, a thread each.
source "$(dirname "$0")/../../scripts/lab.sh"
lab_begin 03-select select "$@"

case $LAB_MODE in
  quick) busy=(10) crowds=(0 300) ;;
  *) busy=(1 10 100) crowds=(0 500 1000 2000) ;;
esac

for server in 02-threads 03-select; do
  server_start "$server"
  for n in "${busy[@]}"; do
    measure "$n busy" --x "$n" -- --connections "$n"
  done
  for n in "${crowds[@]}"; do
    measure "busy + $n idle" --series "$server beside a crowd" --x "$n" -- --connections 1 --idle "$n"
  done
  server_stop
done

lab_report --summary "${busy[-1]} busy" --summary-idle "busy + ${crowds[1]} idle" \
  --columns label,server,connections,idle,rps,p50_ms,p99_ms,errors,cpu_us_per_request,syscalls_per_request,threads,rss_mib,switches_per_s,mem_per_idle_kib \
  --plot "crowd-held|Idle connections held: select stops at its wall|idle connections asked for|idle|idle connections held" \
  --plot "crowd-cpu|CPU per request beside an idle crowd|idle connections asked for|cpu_us_per_request|server CPU us per request" \
  --note "select() cannot watch descriptors >= FD_SETSIZE (1024): 03-select answers those clients 503 and loadgen counts them as errors (bad_status)"
