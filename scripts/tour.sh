#!/usr/bin/env bash
# tour.sh: every chapter's lab in tour mode, then one table across the chapters (make tour).
set -uo pipefail
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
failed=()
start=$(date +%s)
for lab in chapters/[0-9][0-9]-*/compare.sh; do
  chapter=$(basename "$(dirname "$lab")")
  echo
  if ! "$lab" --tour; then
    echo "!! the lab of $chapter failed; the tour goes on" >&2
    failed+=(--failed "$chapter")
  fi
done
echo
echo "== the tour: one row per chapter ($(($(date +%s) - start)) s)"
python3 scripts/lab tour "${failed[@]}"
[[ ${#failed[@]} -eq 0 ]]
