#!/usr/bin/env bash
# Runs the whole test suite: builds (if needed), starts a real S3 server (Ceph
# radosgw on loopback) for the S3 tests, runs the unit tests (ctest) and the
# end-to-end tests (bats), then stops the server.
#   scripts/test.sh            everything
#   NO_S3=1 scripts/test.sh    without the S3 server (S3 tests skip)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${NO_S3:-}" ]]; then
  scripts/install-deps.sh --with-s3-server --with-browser
else
  scripts/install-deps.sh --with-browser
fi
build=${BUILD_DIR:-build}
# Test hooks (src/base/test_hooks.h) let the lock tests hold a command at a gate.
cmake -S . -B "$build" -G Ninja -DEFS2S3_TEST_HOOKS=ON >/dev/null
ninja -C "$build"
rgw_dir=""
cleanup() { [[ -n "$rgw_dir" ]] && scripts/radosgw.sh stop "$rgw_dir" >/dev/null 2>&1 || true; }
trap cleanup EXIT
if [[ -z "${NO_S3:-}" ]]; then
  rgw_dir=$(mktemp -d "${TMPDIR:-/tmp}/efs2s3-rgw.XXXXXX")
  eval "$(scripts/radosgw.sh start "$rgw_dir")"
  export EFS2S3_TEST_DISALLOW_SKIP=${EFS2S3_TEST_DISALLOW_SKIP:-S3,HOOKS,BROWSER}
else
  export EFS2S3_TEST_DISALLOW_SKIP=${EFS2S3_TEST_DISALLOW_SKIP:-HOOKS,BROWSER}
fi
# Screenshots and other files for people to look at (report.bats).
export EFS2S3_ARTIFACTS_DIR=${EFS2S3_ARTIFACTS_DIR:-$PWD/$build/artifacts}
status=0
ctest --test-dir "$build" --output-on-failure -j2 || status=1
# No test waits for a clock, but a bug can make one wait for ever (a command that
# never reaches its test gate): 20 minutes per test is far beyond the slowest.
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-1200}
EFS2S3="$PWD/$build/src/cli/efs2s3" bats tests/e2e || status=1
exit $status
