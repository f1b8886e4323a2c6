#!/usr/bin/env bash
# labs.sh: runs every chapter's lab in --quick mode and checks that what it wrote is plausible:
# every run has a non-zero rate, p99 >= p50, CPU and memory were sampled, and the chapter has a
# summary for the tour. It checks that the instrument works, never how fast anything is.
set -uo pipefail
cd "$(dirname "$0")/../.."
export BUILD=${BUILD:-build}
scripts/deps.sh tour || exit 1
LAB_RESULTS=$(mktemp -d /tmp/one-loop-results.XXXXXX)
export LAB_RESULTS
trap 'rm -rf "$LAB_RESULTS"' EXIT
passed=0 failed=0
for lab in chapters/[0-9][0-9]-*/compare.sh; do
  chapter=$(basename "$(dirname "$lab")")
  "$lab" --quick >"$LAB_RESULTS/$chapter.out" 2>&1
  status=$?
  skipped=$(grep '^skipped: ' "$LAB_RESULTS/$chapter.out")  # a machine without what the lab needs (10's io_uring)
  if [[ $status -eq 0 && -n $skipped ]]; then
    echo "ok: $chapter lab $skipped"
    passed=$((passed + 1))
  elif [[ $status -eq 0 ]] && python3 scripts/checks/check_results.py "$LAB_RESULTS"/"$chapter"-*.json; then
    echo "ok: $chapter lab"
    passed=$((passed + 1))
  else
    echo "FAILED: $chapter lab; its output:"
    sed 's/^/  | /' "$LAB_RESULTS/$chapter.out"
    failed=$((failed + 1))
  fi
done
echo "labs: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
