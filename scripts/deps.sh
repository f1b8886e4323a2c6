#!/usr/bin/env bash
# deps.sh GROUP...: makes sure the Debian packages a target needs are installed.
# As root it installs what is missing; otherwise it prints the exact apt-get line and fails.
#   build  compile and test the servers        tour   run the labs (peers, load tools, plots)
#   bench  the parser benchmark                 book   render the book
#   fuzz   the libFuzzer target                 narrate  make narrate (curl)
set -euo pipefail

# package:file-that-shows-it-is-installed (a file, not dpkg, so a hand-built tool counts too)
declare -A groups=(
  [build]="g++:/usr/bin/g++ make:/usr/bin/make doctest-dev:/usr/include/doctest/doctest.h libcli11-dev:/usr/include/CLI/CLI.hpp liburing-dev:/usr/include/liburing.h libssl-dev:/usr/include/openssl/ssl.h openssl:/usr/bin/openssl"
  [tour]="python3:/usr/bin/python3 nginx-light:/usr/sbin/nginx wrk:/usr/bin/wrk gnuplot-nox:/usr/bin/gnuplot linux-perf:/usr/bin/perf strace:/usr/bin/strace procps:/usr/bin/ps iproute2:/usr/bin/ss nodejs:/usr/bin/node haproxy:/usr/sbin/haproxy"
  [bench]="libbenchmark-dev:/usr/include/benchmark/benchmark.h libhttp-parser-dev:/usr/include/http_parser.h"
  [book]="pandoc:/usr/bin/pandoc python3:/usr/bin/python3"
  [narrate]="curl:/usr/bin/curl openssl:/usr/bin/openssl"
  [fuzz]="clang:/usr/bin/clang++ libclang-rt-14-dev:/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a"
)

missing=()
for group in "$@"; do
  [[ -n "${groups[$group]:-}" ]] || { echo "deps.sh: unknown group '$group' (build, tour, bench, book, fuzz, narrate)" >&2; exit 2; }
  for entry in ${groups[$group]}; do
    package=${entry%%:*} file=${entry#*:}
    [[ -e "$file" ]] || [[ " ${missing[*]} " == *" $package "* ]] || missing+=("$package")
  done
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "one-loop needs these Debian packages: ${missing[*]}" >&2
  echo "Install them with:" >&2
  echo "  sudo sh -c '$line'" >&2
  exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
# Keep Debian from starting the system nginx service: the labs run their own nginx on a loopback port.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
