#!/usr/bin/env bash
# Lab 11: what TLS costs a server, and where the cost sits. One worker each, pinned: chapter 11
# answering /hello and serving files itself (--root: chapter 07 with TLS in front), nginx with ssl
# (the same certificates, protocols and ciphers) and HAProxy answering /hello itself over TLS.
# Part 1, handshakes: each client connects, shakes hands, asks for /hello and closes (loadgen
#   --tls --close), flat out. Full handshakes with an ECDSA P-256 certificate and with RSA 2048,
#   then resumed ones (each connection offers the ticket its previous one received). The same
#   without TLS (a plain connection per request: accept, /hello, close) is each server's baseline:
#   CPU per TLS connection less CPU per plain connection is what the handshake costs. Then, with
#   ECDSA, the same over TLS 1.2 only, whose resumption skips the key exchange that 1.3's repeats.
# Part 2, keep-alive: /hello on connections that stay open, at one rate for all, over TLS and
#   plain: 11 against its own plain port (--plain-port: the same process and loop, no session),
#   nginx with and without ssl, HAProxy.
# Part 3, 1 MiB files: 11's plain port with sendfile; 11 over TLS, where each file passes through
#   memory to be encrypted; 11 with kTLS, where the kernel has the tls module (the server says at
#   start-up which it got, and the lab shows that line); nginx with ssl.
source "$(dirname "$0")/../../scripts/lab.sh"
lab_begin 11-tls tls "$@"

case $LAB_MODE in
  quick) rounds=1 rate=2000 keys=(ecdsa) ;;
  tour) rounds=1 rate=10000 keys=(ecdsa rsa) ;;
  full) rounds=3 rate=10000 keys=(ecdsa rsa) ;;
esac
declare -A key_name=([ecdsa]="ECDSA P-256" [rsa]="RSA 2048")
file_conns=$([[ $LAB_MODE == quick ]] && echo 10 || echo 50)

export LAB_TLS=$LAB_STATE/tls LAB_WWW=$LAB_STATE/www
"$LAB_ROOT/scripts/tls-certs.sh" "$LAB_TLS" || { echo "$0: cannot make the lab's certificates:"; cat "$LAB_TLS/openssl.log"; exit 1; }
mkdir -p "$LAB_WWW"
chmod o+x "$LAB_STATE"  # nginx's workers run as nobody and must pass through to the files
head -c $((1 << 20)) /dev/urandom >"$LAB_WWW/1m.bin"
cat "$LAB_WWW/1m.bin" >/dev/null

# tls_start SERVER KEY: one of the TLS servers with certificate KEY (ecdsa or rsa); sets SERVER_NAME.
tls_start() {
  local server=$1 key=$2
  case $server in
    11-tls) server_start 11-tls --workers 1 --root "$LAB_WWW" --tls-cert "$LAB_TLS/$key.pem" --tls-key "$LAB_TLS/$key.key" "${@:3}"
            SERVER_NAME="11-tls${3:+ $3}" ;;
    # 11 with a plain port beside its TLS one: the load goes to the plain port
    11-plain) server_start 11-tls --workers 1 --root "$LAB_WWW" --tls-cert "$LAB_TLS/$key.pem" --tls-key "$LAB_TLS/$key.key" --plain-port 0
              SERVER_PORT=$(sed -n 's/^plain HTTP on .*://p' "$LAB_STATE/11-tls.out")
              SERVER_NAME="11-tls (plain port)" ;;
    nginx) server_start nginx 1 "tls:$key"; SERVER_NAME="nginx (ssl)" ;;
    haproxy) server_start haproxy-hello "tls:$key"; SERVER_NAME="haproxy (ssl)" ;;
  esac
}

lab_pin
echo "   one worker each; handshakes: 10 clients that close after each answer; keep-alive: 100 connections at $rate/s"
for round in $(seq "$rounds"); do
  # Part 1: handshakes, and the plain connection each is weighed against.
  for server in 11-plain nginx haproxy; do
    has_peer "$server" >/dev/null || continue
    case $server in
      11-plain) tls_start 11-plain ecdsa ;;
      nginx) server_start nginx 1; SERVER_NAME="nginx (plain)" ;;
      haproxy) server_start haproxy-hello; SERVER_NAME="haproxy (plain)" ;;
    esac
    measure "a plain connection per request (round $round)" --series "handshakes" -- --connections 10 --close
    server_stop
  done
  for key in "${keys[@]}"; do
    for server in 11-tls nginx haproxy; do
      has_peer "$server" >/dev/null || continue
      tls_start "$server" "$key"
      for mode in full resume; do
        label="$([[ $mode == full ]] && echo full || echo resumed) handshakes, ${key_name[$key]} (round $round)"
        measure "$label" --series "handshakes" -- --connections 10 --close --tls --tls-handshake "$mode"
        # TLS 1.2: a resumption there is the ticket alone, no ECDHE (1.3 does one again, for secrecy)
        if [[ $key == ecdsa && $LAB_MODE != quick ]]; then
          measure "${label/handshakes,/handshakes over TLS 1.2 only,}" --series "handshakes" -- --connections 10 --close --tls --tls-handshake "$mode" --tls-version 1.2
        fi
      done
      server_stop
    done
  done
  # Part 2: keep-alive, TLS against plain.
  for server in 11-tls 11-plain nginx-tls nginx haproxy; do
    has_peer "${server%-tls}" >/dev/null || continue
    tls=(--tls)
    case $server in
      11-tls) tls_start 11-tls ecdsa ;;
      11-plain) tls_start 11-plain ecdsa; tls=() ;;
      nginx-tls) tls_start nginx ecdsa ;;
      nginx) server_start nginx 1; SERVER_NAME="nginx (plain)"; tls=() ;;
      haproxy) tls_start haproxy ecdsa ;;
    esac
    measure "/hello on keep-alive at $rate/s (round $round)" --series "keep-alive" -- --connections 100 --rate "$rate" "${tls[@]}"
    server_stop
  done
  # Part 3: 1 MiB files.
  for server in 11-plain 11-tls nginx; do
    has_peer "$server" >/dev/null || continue
    tls=(--tls)
    case $server in
      11-plain) tls_start 11-plain ecdsa; tls=() ;;
      11-tls) tls_start 11-tls ecdsa --no-ktls ;;
      nginx) tls_start nginx ecdsa ;;
    esac
    measure "1 MiB files (round $round)" --series "files" -- --connections "$file_conns" --path /1m.bin "${tls[@]}"
    server_stop
  done
  # kTLS: only where the kernel has it. 11 said at its first start which it got.
  ktls=$(grep -o 'kTLS: [^;]*' "$LAB_STATE/11-tls.log" | head -n 1)
  if [[ $ktls == "kTLS: on" ]]; then
    tls_start 11-tls ecdsa
    measure "1 MiB files (round $round)" --series "files" -- --connections "$file_conns" --path /1m.bin --tls
    server_stop
  fi
done
lab_unpin
[[ $ktls == "kTLS: on" ]] || echo "   no kTLS row: 11 said \"$ktls\""

ktls_note=(--note "11 at start-up: $ktls")
# The handshake's own CPU: each TLS row less its server's plain connection per request, same round.
net=()
for key in "${keys[@]}"; do
  for kind in full resumed; do
    for only in "" " over TLS 1.2 only"; do
      [[ -n $only && ($key != ecdsa || $LAB_MODE == quick) ]] && continue
      net+=(--net "cpu_us_per_request|$kind handshakes$only, ${key_name[$key]} (round *)|a plain connection per request (round *)|handshake_us|11-tls=11-tls (plain port),nginx (ssl)=nginx (plain),haproxy (ssl)=haproxy (plain)")
    done
  done
done
growth=(--growth "handshake_us|11-tls|resumed handshakes, ECDSA P-256 (round *)|full handshakes, ECDSA P-256 (round *)|0.333")
[[ $LAB_MODE == quick ]] || growth+=(--growth "handshake_us|11-tls|resumed handshakes over TLS 1.2 only, ECDSA P-256 (round *)|full handshakes over TLS 1.2 only, ECDSA P-256 (round *)|0.333")
lab_report --summary "/hello on keep-alive at $rate/s (round 1)" "${ktls_note[@]}" \
  "${net[@]}" \
  --columns label,server,rps,p50_ms,p99_ms,errors,cpu_us_per_request,user_us_per_request,handshake_us,handshakes_per_request,resumed_share,syscalls_per_request,cpu_us_per_mib,rss_mib \
  --target "handshake_us|full handshakes, ECDSA P-256 (round *)|11-tls|nginx (ssl)|1.0" \
  "${growth[@]}" \
  --target "cpu_us_per_request|/hello on keep-alive at $rate/s (round *)|11-tls|nginx (ssl)|0.9" \
  --target "cpu_us_per_mib|1 MiB files (round *)|11-tls|11-tls --no-ktls|0.7" \
  --note "handshake rows: one connection and one handshake per request (loadgen --close); handshake CPU is that row's CPU per request less its server's plain connection per request in the same round" \
  --note "resumed: the share of the window's handshakes that resumed from a ticket"
