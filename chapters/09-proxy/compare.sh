#!/usr/bin/env bash
# Lab 09: the front door. Two chapter 08 backends, one worker each, on 127.0.0.2 and 127.0.0.3
# (two addresses, as two hosts would have), and in front of them, one worker each: chapter 09,
# nginx as a reverse proxy (upstream keepalive, proxy_http_version 1.1, Connection ""), HAProxy.
# Part 1, the cost of the hop: /hello at one rate for all, straight to a backend and through each
#   proxy: the proxy's CPU per request, latency, and connections opened to the backends per
#   10,000 requests (its connect() calls, counted after the warm-up has filled the pools: the
#   steady state); then the same with keep-alive to the backends off. The proxy's kernel time
#   alone is set against nginx's whole CPU (the "kernel floor"): two proxies that make much the
#   same system calls pay about the same kernel time, so what is left to win is in user space.
# Part 2, a backend dies: /hello at a fixed rate through each proxy; 3 s in, one backend is killed,
#   and 3 s later started again. Failed requests, and how long until a proxy connects to it again.
# Part 3, slow clients: 20 clients each read a 16 MiB file at 2 MiB/s (5 at 16 MiB/s in --quick).
#   How many backend connections stay held by a response the proxy has not taken: 09 with
#   --buffer 32 MiB and 0, nginx with proxy_buffering on (32 MiB of buffers) and off, HAProxy
#   (which buffers little). 16 MiB, not less: the kernel's own buffers are a buffer too. The
#   proxy's send buffer towards a client grows to 4 MiB on loopback (tcp_wmem), so a shorter
#   response goes there whole and frees the backend whether the proxy buffers or not.
source "$(dirname "$0")/../../scripts/lab.sh"
lab_begin 09-proxy proxy "$@"

case $LAB_MODE in
  # quick: fewer, faster readers, so that responses end within the short run and the proxy's one
  # core still keeps up with them all (a busy proxy would hold backends for its own reasons)
  quick) rounds=1 seconds=1 kill_s=0 slow_s=1.5 readers=5 read_kib=16384 proxies=(09-proxy) ;;
  tour) rounds=1 seconds=3 kill_s=12 slow_s=10 readers=20 read_kib=2048 proxies=(09-proxy nginx-proxy haproxy) ;;
  full) rounds=3 seconds=5 kill_s=16 slow_s=12 readers=20 read_kib=2048 proxies=(09-proxy nginx-proxy haproxy) ;;
esac
rate=10000 conns=100

export LAB_WWW=$LAB_STATE/www
mkdir -p "$LAB_WWW"
chmod o+x "$LAB_STATE"
head -c $((16 << 20)) /dev/urandom >"$LAB_WWW/16mib.bin"

# The backends' ports are fixed for the whole lab, so that a backend started again after a kill is
# where the proxies look for it.
port_on() { python3 -c "import socket; s = socket.socket(); s.bind(('$1', 0)); print(s.getsockname()[1])"; }
b1=127.0.0.2:$(port_on 127.0.0.2) b2=127.0.0.3:$(port_on 127.0.0.3)
backend_ports="${b1##*:},${b2##*:}"
echo "   backends: chapter 08 on $b1 and $b2, one worker each; proxies: one worker each"

backend_start() {  # backend_start 1|2: chapter 08 on its address; sets B1_PID or B2_PID
  local address=$b1; [[ $1 == 2 ]] && address=$b2
  server_start 08-threadpool --workers 1 --host "${address%:*}" --port "${address##*:}" --root "$LAB_WWW"
  printf -v "B$1_PID" %s "$SERVER_PID"
}
backends_start() { backend_start 1; backend_start 2; }
backends_stop() { lab stop "$B1_PID"; lab stop "$B2_PID"; }
# What the backends accepted since they started: their workers say so when they stop.
backends_accepted() {
  grep -o 'done: accepted [0-9]*' "$LAB_STATE/08-threadpool.log" | tail -n 2 | awk '{ n += $3 } END { print n + 0 }'
}

proxy_start() {  # proxy_start NAME [nokeepalive] [nobuffering] [09 options...]
  local name=$1 keepalive=32 buffer=$((32 << 20)) words=()
  shift
  for word in "$@"; do
    case $word in
      nokeepalive) keepalive=0; words+=(nokeepalive) ;;
      nobuffering) buffer=0; words+=(nobuffering) ;;
    esac
  done
  case $name in
    09-proxy) server_start 09-proxy --workers 1 --upstream "$b1" --upstream "$b2" --upstream-keepalive "$keepalive" \
                --buffer "$buffer" --health-check /hello --health-interval 1000 ;;
    nginx-proxy) server_start nginx-proxy "$b1" "$b2" "${words[@]}"; SERVER_NAME="nginx proxy" ;;
    haproxy) server_start haproxy "$b1" "$b2" "${words[@]}"; SERVER_NAME=haproxy ;;
  esac
}

# Part 1: the cost of the hop, with and without keep-alive to the backends.
lab_pin
for round in $(seq "$rounds"); do
  backends_start
  SERVER_PID=$B1_PID SERVER_PORT=${b1##*:} SERVER_NAME="direct to a backend"
  LAB_TARGET_HOST=127.0.0.2 DURATION=$seconds measure "/hello at $rate/s (round $round)" --series "the hop" -- \
    --connections "$conns" --rate "$rate"
  backends_stop
  for mode in keepalive nokeepalive; do
    for proxy in "${proxies[@]}"; do
      has_peer "${proxy%-proxy}" || continue
      backends_start
      proxy_start "$proxy" "$mode"
      label="/hello at $rate/s$([[ $mode == nokeepalive ]] && echo ", keep-alive off") (round $round)"
      DURATION=$seconds measure "$label" --series "the hop" -- --connections "$conns" --rate "$rate"
      server_stop
      backends_stop
      accepted=$(backends_accepted)
      lab add-fields "$label" "$SERVER_NAME" "backend_conns_run=$accepted"
      echo "    connections opened to the backends: $accepted in the whole run (warm-up and health checks included)"
    done
  done
done
lab_unpin

# Part 2: a backend dies for 3 s and comes back.
if ((kill_s > 0)); then
  for proxy in "${proxies[@]}"; do
    has_peer "${proxy%-proxy}" || continue
    backends_start
    proxy_start "$proxy"
    (
      sleep 3
      kill -KILL "$B2_PID"
      sleep 3
      backend_start 2 >/dev/null
      echo "$B2_PID" >"$LAB_STATE/b2.pid"
      lab first-connection "${b2##*:}" --timeout $((kill_s - 6)) >"$LAB_STATE/back-after"
    ) &
    killer=$!
    WARMUP=0 DURATION=$kill_s measure "a backend killed 3 s in, back at 6 s" --series "failure" -- \
      --connections "$conns" --rate 2000 --timeout 3000
    wait "$killer"
    B2_PID=$(cat "$LAB_STATE/b2.pid")
    back=$(cat "$LAB_STATE/back-after")
    echo "    the restarted backend was connected to again ${back} s after it came back"
    [[ $back == none ]] || lab add-fields "a backend killed 3 s in, back at 6 s" "$SERVER_NAME" "back_after_s=$back"
    server_stop
    backends_stop
  done
fi

# Part 3: slow clients.
for setting in buffering nobuffering; do
  for proxy in "${proxies[@]}"; do
    has_peer "${proxy%-proxy}" || continue
    [[ $proxy == haproxy && $setting == nobuffering ]] && continue  # HAProxy has one setting: small buffers
    backends_start
    proxy_start "$proxy" "$setting"
    label="$readers clients reading 16 MiB at $read_kib KiB/s$([[ $setting == nobuffering ]] && echo ", no buffering")"
    lab backends --ports "$backend_ports" --seconds "$slow_s" --out "$LAB_STATE/held.json" >"$LAB_STATE/held" &
    sampler=$!
    WARMUP=0 DURATION=$slow_s measure "$label" --series "slow clients" -- \
      --connections "$readers" --path /16mib.bin --read-rate $((read_kib << 10)) --rcvbuf $((16 << 10)) --timeout 20000
    wait "$sampler"
    cat "$LAB_STATE/held"
    lab add-fields "$label" "$SERVER_NAME" --json "$LAB_STATE/held.json"
    server_stop
    backends_stop
  done
done

lab_report --summary "/hello at $rate/s (round 1)" \
  --columns label,server,rps,p50_ms,p99_ms,errors,cpu_us_per_request,user_us_per_request,backend_conns_per_10k,backend_conns_run,back_after_s,backend_held_mean,backend_held_max,rss_mib \
  --target "cpu_us_per_request|/hello at $rate/s (round *)|09-proxy|nginx proxy|0.9" \
  --kernel-floor "/hello at $rate/s (round *)|09-proxy|nginx proxy|0.9" \
  --ceiling "backend_conns_per_10k|/hello at $rate/s (round *)|09-proxy|10" \
  --ceiling "errors|a backend killed 3 s in, back at 6 s|09-proxy|0" \
  --growth "backend_held_mean|09-proxy|$readers clients reading 16 MiB at $read_kib KiB/s|$readers clients reading 16 MiB at $read_kib KiB/s, no buffering|0.1" \
  --note "CPU per request is the proxy's own (its process tree); the backends' is not counted" \
  --note "backend connects per 10k requests: the proxy's connect() calls in the syscall count's window, after the warm-up (health checks included)" \
  --note "backend conns opened (run): what the backends accepted over the whole run, warm-up and health checks included"
