#!/usr/bin/env bash
# narrate.sh CH [VS] [PATH]: one curl of PATH (default /hello) to chapter CH run with --narrate,
# and what the server said about it; with VS, the same curl to chapter VS, the two side by side.
#   make narrate CH=05            make narrate CH=01 VS=05            make narrate CH=08 URL=/sleep?ms=5
# Chapters with worker processes run one (--workers 1), so the story is one process's; chapter 07
# and later serve their own folder as --root (try URL=/README.md); chapters 09 and 11 get a chapter
# 08 backend, and 11 throwaway certificates (curl -k: nothing trusts them). Times are microseconds
# since the server began this request.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[[ $# -ge 1 && -n $1 ]] || { echo "usage: make narrate CH=05 [VS=10] [URL=/hello]" >&2; exit 2; }
ch=$1 vs=${2:-} url=${3:-/hello}
command -v curl >/dev/null || { echo "narrate: needs curl (make narrate installs it, or names the apt-get line)" >&2; exit 2; }
work=$(mktemp -d /tmp/one-loop-narrate.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME BINARY ARGS...: starts a server, waits for its "listening on" line, sets $port.
start() {
  local name=$1; shift
  "$@" --port 0 >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q '^listening on' "$work/$name.out" 2>/dev/null && break
    sleep 0.05
  done
  port=$(grep -m1 '^listening on' "$work/$name.out" | sed 's/.*://') || { cat "$work/$name.err" >&2; exit 1; }
}

# narrate CHAPTER: the narration of one curl to it, in $work/CHAPTER.story
narrate() {
  local dir=
  [[ -n $1 ]] && dir=$(compgen -G "chapters/$1-*" | head -n1 || true)
  [[ -n $dir ]] || { echo "narrate: no chapter '$1' in chapters/ (usage: make narrate CH=05 [VS=10] [URL=/hello])" >&2; exit 2; }
  local name bin args=(--narrate)
  name=$(basename "$dir") bin="$BUILD/bin/$(basename "$dir")"
  [[ -x $bin ]] || { echo "narrate: $bin is not built (run make)" >&2; exit 2; }
  local help
  help=$("$bin" --help)
  grep -q -- '--workers' <<<"$help" && args+=(--workers 1)
  local scheme=http
  if grep -q -- '--upstream' <<<"$help"; then
    start backend "$BUILD/bin/$(ls chapters | grep '^08-' | head -n1)" --workers 1
    args+=(--upstream "127.0.0.1:$port")
  elif grep -q -- '--root' <<<"$help"; then
    args+=(--root "$dir")
  fi
  if grep -q -- '--tls-cert' <<<"$help"; then
    scripts/tls-certs.sh "$work/tls" || { cat "$work/tls/openssl.log" >&2; exit 1; }
    args+=(--tls-cert "$work/tls/ecdsa.pem" --tls-key "$work/tls/ecdsa.key")
    scheme=https
  fi
  start "$name" "$bin" "${args[@]}"
  sleep 0.2  # its workers start and wait: what they say before the request is not the story
  local before
  before=$(wc -c <"$work/$name.err")
  curl -sk -o /dev/null -w "curl $scheme://127.0.0.1:PORT$url -> %{http_code}, %{size_download} bytes of body\n" "$scheme://127.0.0.1:$port$url" >"$work/$name.curl"
  # The last lines (the close) are told after curl has its answer: wait for them, up to 3 s.
  for _ in $(seq 60); do
    tail -c +"$((before + 1))" "$work/$name.err" | grep -qE 'fd [0-9]+ closed$|done, closing$' && break
    sleep 0.05
  done
  sleep 0.05  # and for what follows the close (chapter 01 goes back to accept)
  tail -c +"$((before + 1))" "$work/$name.err" | grep -v '^\[' |
    awk '{ us = $1; if (first == "") first = us; sub(/^ *[0-9]+ us  /, ""); printf "%8d us  %s\n", us - first, $0 }' >"$work/$name.story"
  echo "$name" >"$work/$1.name"
  cp "$work/$name.story" "$work/$1.story"
  cp "$work/$name.curl" "$work/$1.curl"
}

narrate "$ch"
if [[ -z $vs ]]; then
  echo "$(cat "$work/$ch.name"): $(cat "$work/$ch.curl")"
  cat "$work/$ch.story"
  exit 0
fi
narrate "$vs"
width=$(( $(tput cols 2>/dev/null || echo 160) ))
(( width < 120 )) && width=120
half=$(( width / 2 - 2 ))
# Side by side, without the times (the two runs' clocks say nothing to each other).
for c in "$ch" "$vs"; do
  { cat "$work/$c.name"; printf '%s\n' "$(printf '%*s' "$half" '' | tr ' ' '-')"; sed -E 's/^ *[0-9-]+ us  //' "$work/$c.story"; } |
    awk -v w="$half" '{  # wrapped at a space, the rest indented under the line it belongs to
      line = $0; indent = ""
      while (length(indent line) > w) {
        cut = w - length(indent); while (cut > 1 && substr(line, cut, 1) != " ") cut--
        if (cut <= 1) cut = w - length(indent)
        print indent substr(line, 1, cut - 1); line = substr(line, cut + 1); indent = "    "
      }
      print indent line }' >"$work/$c.column"
done
pr -m -t -w "$width" "$work/$ch.column" "$work/$vs.column" | expand
