#!/usr/bin/env bash
# Lab 04: poll() against select() (03).
#
# One busy client beside an idle crowd of 0 to 10,000 connections. select() stops at its wall of
# 1024 descriptors; poll() goes on, but every wait hands the kernel the whole array and scans it
# back, so the CPU each request costs grows with the crowd: watch CPU us/req and the rate.
source "$(dirname "$0")/../../scripts/lab.sh"
lab_begin 04-poll poll "$@"

case $LAB_MODE in
  quick) crowds=(0 300) ;;
  tour) crowds=(0 1000 5000 10000) ;;
  full) crowds=(0 1000 2500 5000 10000 15000) ;;
esac

for server in 03-select 04-poll; do
  server_start "$server"
  measure "50 busy" --series "$server (busy only)" -- --connections 50
  for n in "${crowds[@]}"; do
    measure "busy + $n idle" --series "$server" --x "$n" -- --connections 1 --idle "$n" --source-ips 127.0.0.1-127.0.0.4
  done
  server_stop
done

lab_report --summary "50 busy" --summary-idle "busy + ${crowds[-1]} idle" \
  --columns label,server,connections,idle,rps,p50_ms,p99_ms,errors,cpu_us_per_request,syscalls_per_request,rss_mib,mem_per_idle_kib \
  --plot "crowd-rps|One busy client beside an idle crowd: requests per second|idle connections|rps|requests/s" \
  --plot "crowd-cpu|One busy client beside an idle crowd: CPU per request|idle connections|cpu_us_per_request|server CPU us per request" \
  --note "03-select turns away clients whose descriptor is >= 1024 (503, counted as errors); 04-poll has no such wall"
