#!/usr/bin/env bash
# Runs one test file N times in a row and reports every failing run: the check for
# tests whose outcome depends on timing. Run it on the files a change touches
# whenever that change involves concurrency (20 runs), with --load too.
#
#   scripts/repeat-tests.sh tests/e2e/locks.bats 20
#   scripts/repeat-tests.sh --load tests/e2e/locks.bats 50     # beside a CPU hog
#   scripts/repeat-tests.sh ctest:'Repository' 20              # ctest -R REGEX
#
# --load runs one busy loop per core (sha256 of /dev/zero) for the whole time.
# Environment: BUILD_DIR (build), EFS2S3 (the binary, as for bats). The S3 tests
# need the server started by scripts/radosgw.sh, as scripts/test.sh does; start it
# yourself and export what it prints when repeating them.
# Exit status: 0 when every run passed, 1 otherwise; logs of failing runs are kept
# in the directory printed at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
load=0
if [[ "${1:-}" == --load ]]; then load=1; shift; fi
if (($# != 2)) || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/repeat-tests.sh [--load] FILE.bats|ctest:REGEX RUNS" >&2
  exit 2
fi
target="$1" runs="$2"
build=${BUILD_DIR:-build}
export EFS2S3="${EFS2S3:-$PWD/$build/src/cli/efs2s3}"
case "$target" in
  ctest:*) cmd=(ctest --test-dir "$build" --output-on-failure -R "${target#ctest:}") ;;
  *.bats)
    [[ -f "$target" ]] || { echo "repeat-tests.sh: no such file: $target" >&2; exit 2; }
    cmd=(bats "$target") ;;
  *) echo "repeat-tests.sh: $target is neither a .bats file nor ctest:REGEX" >&2; exit 2 ;;
esac
logs=$(mktemp -d "${TMPDIR:-/tmp}/efs2s3-repeat.XXXXXX")
hogs=()
stop_hogs() { ((${#hogs[@]})) && kill "${hogs[@]}" 2>/dev/null; wait 2>/dev/null; }
trap stop_hogs EXIT
if ((load)); then
  for _ in $(seq 1 "$(nproc)"); do
    sha256sum /dev/zero >/dev/null &
    hogs+=($!)
  done
fi
failed=0
start=$SECONDS
for i in $(seq 1 "$runs"); do
  if "${cmd[@]}" >"$logs/run-$i.log" 2>&1; then
    rm -f "$logs/run-$i.log"
  else
    failed=$((failed + 1))
    echo "run $i of $runs FAILED ($logs/run-$i.log):"
    grep -E '^not ok|^# ' "$logs/run-$i.log" | head -n 20
  fi
done
echo "$target: $((runs - failed)) of $runs runs passed in $((SECONDS - start)) s$( ((load)) && echo ' (under load)')"
((failed == 0)) && rmdir "$logs" 2>/dev/null
((failed == 0))
