#!/usr/bin/env bash
# Builds the unit tests with ASan+UBSan and with TSan and runs them (S3 tests use
# the server in EFS2S3_TEST_S3_ENDPOINT when set, and skip otherwise).
#   scripts/sanitizers.sh [address|thread]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
kinds=("$@")
((${#kinds[@]})) || kinds=(address thread)
status=0
for kind in "${kinds[@]}"; do
  case "$kind" in
    address) flags="address,undefined" ;;
    thread) flags="thread" ;;
    *) echo "unknown sanitizer $kind" >&2; exit 2 ;;
  esac
  dir=build-$kind
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEFS2S3_SANITIZE="$flags" >/dev/null
  ninja -C "$dir"
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 TSAN_OPTIONS=halt_on_error=1 \
    ctest --test-dir "$dir" --output-on-failure -j2 || status=1
done
exit $status
