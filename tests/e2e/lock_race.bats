#!/usr/bin/env bats
# The window between opening a repository (which loads the index) and taking its lock.
# A command that loaded the index before a prune or a backup finished must not act on
# that old index once it holds the lock: a backup would deduplicate against packs the
# prune deleted (its snapshot would reference lost data), and a prune would not see
# the finished backup's index files. The command waits in that window at the test gate
# OPENED (src/base/test_hooks.h) while the other command runs to its end.

load common

teardown() {
  [[ -z "${BG_PID:-}" ]] || kill -9 "$BG_PID" 2>/dev/null || true
  common_teardown
}

setup() {
  common_setup
  gate_setup
  mkdir -p "$T/src/sub"
  run efs init --scrypt-n 1024
  assert_status 0
}

# delayed CACHE_DIR ARGS...: efs2s3 ARGS in the background (BG_PID); returns once it
# has loaded the index and waits, before taking its lock, at the gate.
delayed() {
  local cache="$1"
  shift
  gate_start OPENED "$T/delayed.out" "$EFS2S3" -r "$REPO" --cache-dir "$cache" "$@"
}

wait_delayed() {
  local s=0
  gate_release
  wait "$BG_PID" || s=$?
  BG_PID=
  return "$s"
}

@test "a backup that loaded the index before a prune ran does not reference what prune deleted" {
  for i in 1 2 3; do random_file "$T/src/sub/f$i" 200000; done
  run efs backup "$T/src"
  assert_status 0
  # Its data is unused after forget: the prune below deletes its packs.
  run efs forget "$(efs --json snapshots | jq -r '.[0].id')"
  assert_status 0
  delayed "$T/cache-backup" backup "$T/src"
  run efs prune
  assert_status 0
  assert_output_has "packs deleted"
  s=0
  wait_delayed || s=$?
  cat "$T/delayed.out"
  (( s == 0 ))
  run efs check --read-data
  assert_status 0
  run efs restore latest --target "$T/restore"
  assert_status 0
  comparetree "$T/src" "$T/restore$T/src" --no-atime
}

@test "a prune that loaded the index before a backup finished keeps that backup's data" {
  random_file "$T/src/sub/old" 100000
  run efs backup "$T/src"
  assert_status 0
  delayed "$T/cache-prune" prune
  for i in 1 2 3; do random_file "$T/src/sub/new$i" 200000; done
  run efs backup "$T/src"
  assert_status 0
  s=0
  wait_delayed || s=$?
  cat "$T/delayed.out"
  (( s == 0 ))
  run efs check --read-data
  assert_status 0
  run efs restore latest --target "$T/restore"
  assert_status 0
  comparetree "$T/src" "$T/restore$T/src" --no-atime
}
