#!/usr/bin/env bash
# diff.sh FROM TO: what chapter TO changes in chapter FROM's code (make diff FROM=01 TO=02).
# The write-ups differ wholesale, so only code is compared; a file new in TO is shown whole, and a
# file of FROM that TO includes from FROM's folder (06 uses 05's poller.hpp) is named, not shown gone.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -eq 2 ]] || { echo "usage: make diff FROM=01 TO=02" >&2; exit 2; }
from=$(ls -d chapters/"$1"-* 2>/dev/null | head -n1)
to=$(ls -d chapters/"$2"-* 2>/dev/null | head -n1)
[[ -n $from ]] || { echo "no chapter $1 in chapters/" >&2; exit 2; }
[[ -n $to ]] || { echo "no chapter $2 in chapters/" >&2; exit 2; }
color=never
[[ -t 1 ]] && color=always
# server.cpp against server.cpp is the lesson; other code files are compared by name.
shopt -s nullglob
files=()
for path in "$from"/*.cpp "$from"/*.hpp "$to"/*.cpp "$to"/*.hpp; do
  name=$(basename "$path")
  [[ $name == test_* ]] || files+=("$name")
done
for file in $(printf '%s\n' "${files[@]}" | sort -u); do
  a="$from/$file" b="$to/$file"
  [[ -e $a ]] || a=/dev/null  # new in TO: shown whole
  if [[ ! -e $b ]] && grep -qsF "#include \"$a\"" "$to"/*.cpp "$to"/*.hpp; then
    echo "# $a: unchanged, $(basename "$to") includes it from there"
    continue
  fi
  [[ -e $b ]] || b=/dev/null  # gone in TO
  git --no-pager diff --no-index --color="$color" -- "$a" "$b" || true
done
