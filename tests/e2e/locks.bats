#!/usr/bin/env bats
# Locks: an exclusive operation on a repository in use exits 11; a lock left by a killed
# process can be removed with unlock. The backup that holds the lock waits at the test
# gate LOCKED (src/base/test_hooks.h) until the test lets it go on, so the outcome does
# not depend on how fast the backup runs.

load common

teardown() {
  [[ -z "${BG_PID:-}" ]] || kill -9 "$BG_PID" 2>/dev/null || true
  common_teardown
}

# start_backup: a backup in the background (BG_PID) that holds its lock at the gate.
start_backup() { gate_start LOCKED "$T/out" "$EFS2S3" -r "$REPO" backup "$T/src"; }

setup() {
  common_setup
  gate_setup
  mkdir "$T/src"
  for i in 1 2 3; do random_file "$T/src/file-$i" 100000; done
  init_repo
  run efs backup "$T/src/file-1"
  assert_status 0
  run efs --json snapshots
  FIRST=$(jq -r '.[0].id' <<<"$output")
}

@test "forget while a backup runs exits 11 and removes nothing" {
  start_backup
  run --separate-stderr efs forget "$FIRST"
  assert_status "$EXIT_LOCKED"
  assert_output_has "locked"
  run efs --json snapshots
  (( $(jq length <<<"$output") == 1 ))
  # Released, the backup finishes and its snapshot joins the first.
  gate_release
  wait "$BG_PID"
  BG_PID=
  run efs --json snapshots
  (( $(jq length <<<"$output") == 2 ))
}

@test "prune while a backup runs exits 11" {
  start_backup
  run --separate-stderr efs prune
  assert_status "$EXIT_LOCKED"
  gate_release
  wait "$BG_PID"
  BG_PID=
  run efs prune
  assert_status 0
}

@test "a second backup runs beside the first (shared locks)" {
  start_backup
  run efs backup "$T/src/file-2"
  assert_status 0
  gate_release
  wait "$BG_PID"
  BG_PID=
  run efs --json snapshots
  (( $(jq length <<<"$output") == 3 ))
}

@test "a lock left by a killed backup: unlock, then exclusive commands work" {
  start_backup
  kill -KILL "$BG_PID"
  wait "$BG_PID" || true
  BG_PID=
  # The dead process's lock is left behind; unlock removes it (it is stale: same
  # host, no such process).
  [[ -n "$(ls "$REPO/locks")" ]]
  run efs unlock
  assert_status 0
  [[ -z "$(ls "$REPO/locks")" ]]
  run efs forget "$FIRST"
  assert_status 0
  run efs --json snapshots
  (( $(jq length <<<"$output") == 0 ))
}
