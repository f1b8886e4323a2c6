#!/usr/bin/env bash
# Lab 07: sendfile against the copy through user space, and against nginx.
#
# Files of 4 KiB, 64 KiB and 1 MiB, already in the page cache, asked for back to back by 50
# connections. Three servers in the same run: 07 (sendfile), 07 --copy (pread into a buffer, then
# send) and nginx (sendfile on, tcp_nopush on), each with ONE worker: one loop against one loop,
# so that CPU per MiB compares the ways of sending and not the number of cores. Printed per run:
# requests/s, MiB/s, server CPU per request and per MiB, syscalls per request.
# The target: for 1 MiB files, sendfile costs at most 0.7x the CPU per MiB of --copy, and no more
# than nginx. The lab prints what it measured against that; it never assumes it.
source "$(dirname "$0")/../../scripts/lab.sh"
lab_begin 07-sendfile sendfile "$@"

# --quick proves the lab works in a few seconds: the chapter's binary and nginx (two ways of
# starting a server, and nginx's root) on one size; --copy is the same binary with one more flag.
servers=("07-sendfile" "07-sendfile --copy" "nginx")
case $LAB_MODE in
  quick) sizes=(1m) conns=10 servers=("07-sendfile" "nginx") rounds=1 ;;
  tour) sizes=(4k 64k 1m) conns=50 rounds=2 ;;
  full) sizes=(4k 64k 1m) conns=50 rounds=3 ;;
esac
declare -A bytes=([4k]=4096 [64k]=65536 [1m]=1048576) labels=([4k]="4 KiB files" [64k]="64 KiB files" [1m]="1 MiB files")

# The files, in the lab's state folder; nginx serves the same folder (LAB_WWW is its root). Run as
# root, nginx's workers run as nobody: they must be able to pass through the state folder (0700).
export LAB_WWW=$LAB_STATE/www
mkdir -p "$LAB_WWW"
chmod o+x "$LAB_STATE"
for size in "${sizes[@]}"; do head -c "${bytes[$size]}" /dev/urandom >"$LAB_WWW/$size.bin"; done
cat "$LAB_WWW"/*.bin >/dev/null  # read once: the page cache holds them, so no run waits for the disk
echo "   one worker each: 07-sendfile --workers 1, nginx worker_processes 1; $conns connections per run"
# Pinned: loadgen on a CPU of its own. Unpinned, the same server's CPU per MiB ranged over 2x
# from one round to the next (57 to 133 us), with the scheduler placing the two sides anew each
# time; pinned, the spread was about a third of that (README, the reference run).
lab_pin

# In rounds: every server once per round, all sizes in the first, the 1 MiB files (the target's
# row) again in the others. This machine's speed, and whether a server or loadgen is the one
# that waits, can change from one minute to the next; the targets take each round's ratio and
# judge the median.
for round in $(seq "$rounds"); do
  for server in "${servers[@]}"; do
    has_peer "${server%% *}" || continue
    case $server in
      nginx) server_start nginx 1; SERVER_NAME="nginx (1 worker)" ;;
      *) server_start 07-sendfile --workers 1 --root "$LAB_WWW" ${server#07-sendfile}; SERVER_NAME=$server ;;
    esac
    for size in "${sizes[@]}"; do
      if [[ $size == 1m ]]; then
        x=(); [[ $round == 1 ]] && x=(--x 1024)  # one point per server in the plot
        measure "1 MiB files (round $round)" --series "$SERVER_NAME" "${x[@]}" -- --connections "$conns" --path /1m.bin
      elif [[ $round == 1 ]]; then
        measure "${labels[$size]}" --series "$SERVER_NAME" --x $((bytes[$size] / 1024)) -- \
          --connections "$conns" --path "/$size.bin"
      fi
    done
    server_stop
  done
done

# Large files depend on the congestion control more than on sendfile (README: "The congestion
# control decides the large files"): say which one this run had, when it is not Linux's default.
cc=$(cat /proc/sys/net/ipv4/tcp_congestion_control 2>/dev/null || echo unknown)
cc_note=()
[[ $cc != cubic ]] && cc_note=(--note "TCP congestion control here is $cc, not cubic: with bbr's pacing on loopback, large files cost several times more CPU per MiB, sendfile most (see the README)")
lab_report --summary "1 MiB files (round 1)" "${cc_note[@]}" \
  --columns label,server,rps,mib_per_s,p99_ms,errors,cpu_us_per_request,cpu_us_per_mib,syscalls_per_request,rss_mib \
  --plot "sendfile|Files by size, $conns connections, one worker each|file size (KiB)|mib_per_s,cpu_us_per_mib,rps,syscalls_per_request|MiB/s received,server CPU us per MiB,requests/s,syscalls per request|logx" \
  --target "cpu_us_per_mib|1 MiB files (round *)|07-sendfile|07-sendfile --copy|0.7" \
  --target "cpu_us_per_mib|1 MiB files (round *)|07-sendfile|nginx (1 worker)|1.0" \
  --note "MiB/s counts every byte loadgen received, response heads included (about 6% of a 4 KiB response)"
