#!/usr/bin/env bats
# Locks: an exclusive operation on a repository in use exits 11; a lock left by a killed
# process can be removed with unlock.

load common

teardown() {
  [[ -z "${BG_PID:-}" ]] || kill "$BG_PID" 2>/dev/null || true
  common_teardown
}

# start_backup: a backup that runs for a while, in the background, holding its lock
# once it has opened a source file.
start_backup() {
  "$EFS2S3" -r "$REPO" backup "$T/src" >"$T/out" 2>&1 &
  BG_PID=$!
  while kill -0 "$BG_PID" 2>/dev/null; do
    ls -l "/proc/$BG_PID/fd" 2>/dev/null | grep -q -- "$T/src/" && return 0
    sleep 0.005
  done
  return 1
}

setup() {
  common_setup
  mkdir "$T/src"
  for i in $(seq -w 1 24); do random_file "$T/src/big-$i" $((4 * 1024 * 1024)); done
  init_repo
  run efs backup "$T/src/big-01"
  assert_status 0
  run efs --json snapshots
  FIRST=$(jq -r '.[0].id' <<<"$output")
}

@test "forget while a backup runs exits 11 and removes nothing" {
  start_backup || skip "backup finished before the lock could be tested"
  run --separate-stderr efs forget "$FIRST"
  locked_status=$status
  wait "$BG_PID"
  BG_PID=
  status=$locked_status
  assert_status "$EXIT_LOCKED"
  run efs --json snapshots
  (( $(jq length <<<"$output") == 2 ))
}

@test "a lock left by a killed backup: unlock, then exclusive commands work" {
  start_backup || skip "backup finished before it could be killed"
  kill -KILL "$BG_PID"
  wait "$BG_PID" || true
  BG_PID=
  run efs unlock
  assert_status 0
  run efs forget "$FIRST"
  assert_status 0
  run efs --json snapshots
  (( $(jq length <<<"$output") == 0 ))
}
