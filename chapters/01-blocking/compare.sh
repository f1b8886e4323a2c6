#!/usr/bin/env bash
# Lab 01: what "blocking" means for a second client.
#
# One client holds a keep-alive connection to the server, silent; a second client
# arrives and asks for /hello twenty times a second, its latency counted from when each request
# was due. Chapter 01 answers the second client only once the first has left; chapter 02, which
# gives each connection its own thread, answers both at once. Alone, the two are about as fast.
source "$(dirname "$0")/../../scripts/lab.sh"
lab_begin 01-blocking blocking "$@"

# The first client asks once, then holds its keep-alive connection open and silent through the
# warm-up and half of the measured window, then leaves.
holder_seconds=$(python3 -c "print($WARMUP + $DURATION / 2)")
for server in 01-blocking 02-threads; do
  server_start "$server"
  measure "alone" -- --connections 1
  measure "beside a holder" --beside "--connections 0 --idle 1" --beside-seconds "$holder_seconds" \
    -- --connections 1 --rate 20 --timeout 60000
  server_stop
done

lab_report --summary "alone" \
  --columns label,server,rps,p50_ms,p99_ms,max_ms,errors,cpu_us_per_request,syscalls_per_request,threads,rss_mib \
  --note "beside a holder: the first client held its connection for the warm-up and half of the measured window, so with 01 the second client's requests wait up to about $holder_seconds s"
