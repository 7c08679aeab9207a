#!/usr/bin/env bats
# --limit-upload / --limit-download: one limit across all connections, on a local
# repository and on the S3 server (radosgw; skips without it unless
# EFS2S3_TEST_DISALLOW_SKIP contains S3). Each test moves a known size under a limit
# and checks that it took at least 0.8 * size / limit: a check that the limiter
# works, not a performance threshold (nothing bounds how slow it may be).

load common

setup() {
  common_setup
  BUCKET=""
  mkdir -p "$T/src"
  # Incompressible, so that the bytes stored are about the bytes backed up.
  random_file "$T/src/data" 3145728
}

teardown() {
  if [[ -n "${BUCKET:-}" ]] && command -v aws >/dev/null; then
    aws --endpoint-url "$EP" s3 rb "s3://$BUCKET" --force >/dev/null 2>&1 || true
  fi
  common_teardown
}

# elapsed CMD...: runs CMD (status in $status), its wall time in $SECONDS_TAKEN.
elapsed() {
  local start=$EPOCHREALTIME
  status=0
  "$@" >"$T/out" 2>&1 || status=$?
  SECONDS_TAKEN=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
}

# at_least SECONDS: $SECONDS_TAKEN >= SECONDS.
at_least() {
  awk -v t="$SECONDS_TAKEN" -v m="$1" 'BEGIN { exit !(t >= m) }' || {
    echo "took $SECONDS_TAKEN s, expected at least $1 s" >&2
    cat "$T/out" >&2
    return 1
  }
}

# limited_round_trip: 3 MiB up at 1024 KiB/s (at least 2.4 s), and down again
# (restore, at least 2.4 s); `r` runs the binary on the repository.
limited_round_trip() {
  run r init --scrypt-n 1024 --pack-size 1
  assert_status 0
  # Packs of 1 MiB uploaded in parallel (--uploads 8): several connections
  # share the one limit.
  elapsed r --limit-upload 1024 backup --uploads 8 "$T/src"
  assert_status 0
  at_least 2.4
  elapsed r --limit-download 1024 --no-cache restore latest --target "$T/r"
  assert_status 0
  at_least 2.4
  cmp "$T/src/data" "$T/r$T/src/data"
  # The option is checked: a limit of 0 is a usage error.
  run r --limit-upload 0 snapshots
  assert_status "$EXIT_USAGE"
  assert_output_has "--limit-upload"
}

@test "limits: --limit-upload and --limit-download hold on a local repository" {
  r() { "$EFS2S3" -r "$REPO" "$@"; }
  limited_round_trip
}

@test "limits: --limit-upload and --limit-download hold on S3" {
  require_s3_server || return 1
  BUCKET="efs2s3-limits-$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  r() { "$EFS2S3" -r "s3://$BUCKET/repo" --s3-endpoint "$EP" --s3-path-style "$@"; }
  limited_round_trip
}
