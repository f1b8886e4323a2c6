#!/usr/bin/env bash
# test.sh: every test in the course, in order: the unit tests of common/, then for each chapter
# the shared black-box suite and the chapter's own tests, then any extra checks in scripts/checks/.
# Prints one line per run and a total "tests: N passed, N failed" counted in doctest test cases.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
log_dir=$(mktemp -d /tmp/one-loop-test.XXXXXX)
trap 'rm -rf "$log_dir"' EXIT

passed=0 failed=0 failures=() causes=()

tls_dir=""

# run NAME COMMAND...: runs one doctest binary, shows its summary, and its whole output on failure.
run() {
  local name=$1; shift
  local log="$log_dir/${name//\//_}.log"
  "$@" >"$log" 2>&1
  local status=$?
  local counts
  # doctest's "[doctest] test cases: 20 | 20 passed | 0 failed", or a script's "name: 3 passed, 0 failed"
  counts=$(grep -aE '^\[doctest\] test cases:|^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
  local p f
  p=$(sed -E 's/.*[| ]([0-9]+) passed.*/\1/' <<<"$counts")
  f=$(sed -E 's/.*[|,] *([0-9]+) failed.*/\1/' <<<"$counts")
  [[ $p =~ ^[0-9]+$ ]] || p=0
  [[ $f =~ ^[0-9]+$ ]] || f=0
  if [[ $status -ne 0 && $f -eq 0 ]]; then f=1; fi  # a crash or a script failure counts as one failure
  grep -a '^\[.*\] skipping' "$log"
  printf '%-40s %4d passed %4d failed\n' "$name" "$p" "$f"
  if [[ $status -ne 0 ]]; then
    failures+=("$name")
    sed 's/^/    | /' "$log" | tail -n 80
    # Its first errors again at the end, where a log cut to its last lines (CI's) still shows them
    local cause line
    cause=$(grep -aE 'ERROR:|FATAL|THREW|AddressSanitizer|ThreadSanitizer|runtime error' "$log" | head -n 3)
    while IFS= read -r line; do causes+=("    $name | $line"); done <<<"${cause:-exit status $status}"
  fi
  passed=$((passed + p)) failed=$((failed + f))
}

run "unit tests (common/)" "$BUILD/bin/unit-tests"
for dir in chapters/[0-9][0-9]-*/; do
  chapter=$(basename "$dir")
  # A chapter that needs something of the kernel (10's io_uring) answers --probe, with exit status 3
  # when this machine lacks it: its tests are skipped, with the server's own reason, and pass.
  if "$BUILD/bin/$chapter" --help 2>/dev/null | grep -q -- '--probe'; then
    why=$("$BUILD/bin/$chapter" --probe 2>&1)
    if [[ $? -eq 3 ]]; then
      printf '%-40s skipped: %s\n' "$chapter" "$why"
      continue
    fi
  fi
  skip=() backend=()
  [[ -f $dir/suite.skip ]] && skip=(--skip-file "$dir/suite.skip")
  # suite.backend: the server this chapter stands in front of (09's proxy), as "CHAPTER OPTIONS..."
  if [[ -f $dir/suite.backend ]]; then
    backend=(--backend "$BUILD/bin/$(grep -v '^#' "$dir/suite.backend" | head -n1)")
  fi
  # suite.tls: the chapter's clients speak TLS (11), with the throwaway certificates made once, here
  tls=() over=""
  if [[ -f $dir/suite.tls ]]; then
    if [[ -z $tls_dir ]]; then
      tls_dir="$log_dir/tls"
      if ! scripts/tls-certs.sh "$tls_dir"; then
        printf '%-40s cannot make test certificates:\n' "$chapter"
        sed 's/^/    | /' "$tls_dir/openssl.log"
        tls_dir="" failed=$((failed + 1)) failures+=("$chapter")
        continue
      fi
    fi
    tls=(--tls-dir "$tls_dir") over=" over TLS"
  fi
  run "$chapter: shared suite$over" "$BUILD/bin/blackbox" --server "$BUILD/bin/$chapter" "${skip[@]}" "${backend[@]}" "${tls[@]}"
  # suite.plain: the same binary's plain HTTP port (11's --plain-port), skipping what the file names
  if [[ -f $dir/suite.plain && ${#tls[@]} -gt 0 ]]; then
    run "$chapter: shared suite on its plain port" "$BUILD/bin/blackbox" --server "$BUILD/bin/$chapter" \
      --skip-file "$dir/suite.plain" "${backend[@]}" "${tls[@]}" --plain-port
  fi
  # The suite once more over IPv6 for one blocking chapter and one event loop: the address family
  # is common code (common/sys.cpp), and the process suite starts every chapter on ::1 and on ::.
  if [[ $chapter == 02-threads || $chapter == 05-epoll ]]; then
    if grep -qi '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; then
      run "$chapter over IPv6: shared suite" "$BUILD/bin/blackbox" --server "$BUILD/bin/$chapter" --host ::1 "${skip[@]}"
    else
      printf '%-40s skipped: this machine has no IPv6 loopback address (::1)\n' "$chapter over IPv6"
    fi
  fi
  # suite.variants: one line of server options per extra run of the suite (05's --edge, 06's --workers 1),
  # skipping only what suite.variants.skip names: what no configuration of the chapter can do
  variant_skip=()
  [[ -f $dir/suite.variants.skip ]] && variant_skip=(--skip-file "$dir/suite.variants.skip")
  if [[ -f $dir/suite.variants ]]; then
    while read -r variant; do
      [[ -z $variant || $variant == \#* ]] && continue
      server_args=()
      for word in $variant; do server_args+=(--server-arg "$word"); done
      # no suite.skip here: a variant exists to run what the default configuration cannot
      run "$chapter $variant: shared suite" "$BUILD/bin/blackbox" --server "$BUILD/bin/$chapter" "${server_args[@]}" \
        "${variant_skip[@]}" "${backend[@]}" "${tls[@]}"
    done <"$dir/suite.variants"
  fi
  if [[ -x $BUILD/bin/test-$chapter ]]; then
    run "$chapter: own tests" "$BUILD/bin/test-$chapter" --server "$BUILD/bin/$chapter" "${tls[@]}"
  fi
done
# The checks (the labs in --quick mode) measure the plain build; under a sanitizer they would
# only measure the sanitizer.
if [[ $BUILD == build ]]; then
  for check in scripts/checks/*.sh; do
    [[ -x $check ]] && run "check: $(basename "$check" .sh)" env BUILD="$BUILD" "$check"
  done
fi

[[ ${#failures[@]} -gt 0 ]] && printf 'failed: %s\n' "${failures[@]}" && printf '%s\n' "${causes[@]}"
echo "tests: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
